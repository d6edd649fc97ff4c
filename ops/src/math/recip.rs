//! 1/a: a linear first guess on the mantissa, three Newton steps, exponent assembly.

use super::pow2::scale_by_pow2;
use crate::arith::{MulAdd, Unfused};
use crate::canonical::{canonical_nan, ftz, is_nan_bits};
use crate::exact_product::{mul_add_pieces, split, split_in_domain};

// The linear approximation of 1/m on [1, 2) with the smallest worst relative error:
// 24/17 - 8/17 m, error <= 1/17. Three Newton steps square the error three times:
// (1/17)^8 is far below 2^-24.
const GUESS_OFFSET: f32 = 24.0 / 17.0;
const GUESS_SLOPE: f32 = -8.0 / 17.0;
const NEWTON_STEPS: usize = 3;

/// 1/a with the default (unfused) evaluation; see [`recip_with`].
pub fn recip(a: f32) -> f32 {
    recip_with::<Unfused>(a)
}

/// 1/a, identical bits under any [`MulAdd`].
///
/// `a = m * 2^e` with m in [1, 2); `y ~ 1/m` refined by `y += y * (1 - m*y)` where both the
/// residual and the correction are [`split_mul_add`](crate::split_mul_add)s; result
/// `y * 2^-e` by exponent arithmetic. ±0 (and denormals) give ±inf, ±inf gives ±0, results below 2^-126 give
/// signed zero, NaN gives the canonical NaN.
///
/// Branch-free (the special inputs run the Newton steps on whatever their bits give and are
/// replaced by the selects at the end), so a loop over a slice vectorises.
#[inline(always)]
pub fn recip_with<A: MulAdd>(a: f32) -> f32 {
    let a = ftz(a);
    let bits = a.to_bits();
    let sign = bits & 0x8000_0000;
    let magnitude = bits & 0x7FFF_FFFF;
    let e = (magnitude >> 23) as i32 - 127;
    let m = f32::from_bits((magnitude & 0x007F_FFFF) | (127 << 23));
    // m lies in [1, 2) and every y in [0.47, 1] (the guess in [8/17, 16/17], each Newton
    // step's result within (1 - 1/17^2) / m and 1/m): both in the factor domain, split
    // without its checks. The residual may be tiny and keeps them.
    let m = split_in_domain(m);
    let minus_m = (-m.0, -m.1);
    let mut y = mul_add_pieces::<A>(split(GUESS_SLOPE), m, GUESS_OFFSET);
    for _ in 0..NEWTON_STEPS {
        let y_pieces = split_in_domain(y);
        let residual = mul_add_pieces::<A>(minus_m, y_pieces, 1.0);
        y = mul_add_pieces::<A>(y_pieces, split(residual), y);
    }
    let y = f32::from_bits(scale_by_pow2(y, -e).to_bits() | sign);
    if is_nan_bits(a) {
        canonical_nan()
    } else if magnitude == 0 {
        f32::from_bits(sign | f32::INFINITY.to_bits())
    } else if magnitude == f32::INFINITY.to_bits() {
        f32::from_bits(sign)
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recip_of_powers_of_two_is_exact() {
        for k in -125..=125 {
            let a = 2.0f32.powi(k);
            assert_eq!(recip(a), 2.0f32.powi(-k), "1/2^{k}");
            assert_eq!(recip(-a), -(2.0f32.powi(-k)), "-1/2^{k}");
        }
    }

    #[test]
    fn recip_edges_follow_the_policy() {
        assert_eq!(recip(0.0), f32::INFINITY);
        assert_eq!(recip(-0.0), f32::NEG_INFINITY);
        assert_eq!(recip(f32::INFINITY).to_bits(), 0);
        assert_eq!(recip(f32::NEG_INFINITY).to_bits(), 0x8000_0000);
        assert_eq!(
            recip(f32::from_bits(1)),
            f32::INFINITY,
            "denormal input counts as zero"
        );
        assert_eq!(recip(3.0e38).to_bits(), 0, "denormal result flushes");
        assert!(recip(f32::NAN).is_nan());
    }
}
