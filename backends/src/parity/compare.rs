//! The one comparison every parity check makes: two outputs, bit for bit, with the size of
//! the worst difference for the report.

use std::fmt;

/// One output compared with its reference, value by value (each value an f32 bit pattern).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BitComparison {
    /// Values compared: the longer of the two outputs.
    pub values: usize,
    /// Values whose bits differ, counting every value one output has and the other lacks.
    pub differing: usize,
    /// The largest |reference - candidate| over the differing values, read as f32 and
    /// subtracted in f64 (exact). Infinite where a NaN meets a different bit pattern or one
    /// output is shorter: neither has a size. Zero when the outputs are identical.
    pub max_abs_delta: f64,
    /// The first differing value: (index, reference bits, candidate bits); `None` past the
    /// end of the shorter output.
    pub first: Option<(usize, Option<u32>, Option<u32>)>,
}

impl BitComparison {
    /// Nothing compared yet: the identity of [`Self::merge`].
    pub const EMPTY: Self = Self {
        values: 0,
        differing: 0,
        max_abs_delta: 0.0,
        first: None,
    };

    /// Every bit equal.
    pub fn is_exact(&self) -> bool {
        self.differing == 0
    }

    /// The comparison of two outputs laid end to end (`self`'s first, then `other`'s).
    pub fn merge(self, other: Self) -> Self {
        Self {
            values: self.values + other.values,
            differing: self.differing + other.differing,
            max_abs_delta: self.max_abs_delta.max(other.max_abs_delta),
            first: self
                .first
                .or(other.first.map(|(i, r, c)| (i + self.values, r, c))),
        }
    }
}

/// Compares `candidate` with `reference` bit for bit. Equal bits are equal values, NaN
/// payloads and the sign of zero included: the determinism contract promises bytes.
pub fn compare_bits(reference: &[u32], candidate: &[u32]) -> BitComparison {
    let values = reference.len().max(candidate.len());
    let mut c = BitComparison {
        values,
        ..BitComparison::EMPTY
    };
    for i in 0..values {
        let (r, d) = (reference.get(i).copied(), candidate.get(i).copied());
        if r == d {
            continue;
        }
        c.differing += 1;
        c.first.get_or_insert((i, r, d));
        let delta = match (r, d) {
            (Some(r), Some(d)) => {
                (f64::from(f32::from_bits(r)) - f64::from(f32::from_bits(d))).abs()
            }
            _ => f64::INFINITY,
        };
        // NaN - x is NaN: a difference with no size counts as the largest.
        c.max_abs_delta = c
            .max_abs_delta
            .max(if delta.is_nan() { f64::INFINITY } else { delta });
    }
    c
}

/// The f32 bit patterns of `values`.
pub fn f32_bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// bf16 bit patterns (KV rows) as the f32 bit patterns of the same values: widening bf16
/// to f32 appends 16 zero bits, so the comparison's |Δ| is in the values' own units.
pub fn bf16_as_f32_bits(values: &[u16]) -> impl Iterator<Item = u32> + '_ {
    values.iter().map(|&h| u32::from(h) << 16)
}

impl fmt::Display for BitComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} values differ, max|Δ| = {:e}",
            self.differing, self.values, self.max_abs_delta
        )?;
        if let Some((i, r, c)) = self.first {
            let show = |b: Option<u32>| {
                b.map_or_else(
                    || "nothing".to_owned(),
                    |b| format!("{b:#010x} ({:e})", f32::from_bits(b)),
                )
            };
            write!(f, "; first at {i}: reference {} vs {}", show(r), show(c))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_outputs_are_exact_with_zero_delta() {
        let a = f32_bits(&[1.0, -0.0, f32::NAN, f32::INFINITY]);
        let c = compare_bits(&a, &a);
        assert!(c.is_exact());
        assert_eq!((c.values, c.max_abs_delta, c.first), (4, 0.0, None));
    }

    #[test]
    fn one_ulp_is_caught_with_its_size() {
        let c = compare_bits(&f32_bits(&[2.0, 1.0]), &f32_bits(&[2.0, 1.0f32.next_up()]));
        assert!(!c.is_exact());
        assert_eq!(c.differing, 1);
        assert_eq!(c.max_abs_delta, f64::from(f32::EPSILON));
        assert_eq!(
            c.first,
            Some((1, Some(1.0f32.to_bits()), Some(1.0f32.next_up().to_bits())))
        );
    }

    #[test]
    fn signed_zeros_nan_payloads_and_missing_values_differ() {
        let zero = compare_bits(&f32_bits(&[0.0]), &f32_bits(&[-0.0]));
        assert_eq!((zero.differing, zero.max_abs_delta), (1, 0.0));
        let nan = compare_bits(&[0x7FC0_0000], &[0x7FC0_0001]);
        assert_eq!(nan.max_abs_delta, f64::INFINITY);
        let short = compare_bits(&[1, 2, 3], &[1]);
        assert_eq!((short.values, short.differing), (3, 2));
        assert_eq!(short.first, Some((1, Some(2), None)));
        assert_eq!(short.max_abs_delta, f64::INFINITY);
    }

    #[test]
    fn merged_comparisons_add_up_and_offset_the_first_difference() {
        let a = compare_bits(&[1, 2], &[1, 2]);
        let b = compare_bits(&f32_bits(&[1.0]), &f32_bits(&[3.0]));
        let m = a.merge(b);
        assert_eq!((m.values, m.differing, m.max_abs_delta), (3, 1, 2.0));
        assert_eq!(m.first.unwrap().0, 2);
        assert_eq!(BitComparison::EMPTY.merge(a), a);
    }

    #[test]
    fn bf16_widens_to_the_same_value() {
        let h = half::bf16::from_f32(-1.5).to_bits();
        let bits: Vec<u32> = bf16_as_f32_bits(&[h]).collect();
        assert_eq!(f32::from_bits(bits[0]), -1.5);
    }
}
