//! bf16 and f16: rounding f32 down to bf16 and widening both back, with integer bit ops only.
//!
//! bf16 is the format of everything that is multiplied in a matrix product or in attention:
//! activations are rounded to it at the input (DETERMINISM.md §2), the KV cache stores it, and
//! weights may arrive in it. A bf16 has 8 significant bits, so a product of two is exact.

use half::bf16;

use crate::canonical::{ftz, is_nan_bits};
use crate::error::{OpsError, check_len};

/// The bf16 NaN that rounding emits for every NaN input.
pub const CANONICAL_BF16_NAN_BITS: u16 = 0x7FC0;

/// bf16 bits whose magnitude is at or above 2^64: [`domain_bf16`] maps them to NaN.
const BF16_DOMAIN_MAX_BITS: u16 = 191 << 7;
/// bf16 bits whose magnitude is below 2^-40: [`domain_bf16`] maps them to signed zero.
const BF16_DOMAIN_MIN_BITS: u16 = 87 << 7;

/// Rounds `v` to the nearest bf16, ties to even, and returns its bits.
///
/// Denormal inputs count as zero, results that would be bf16 denormals become zero of the
/// same sign, every NaN becomes `CANONICAL_BF16_NAN_BITS` (0x7FC0), and values that round
/// past the largest bf16 become infinities (plain round-to-nearest overflow).
#[inline(always)]
pub fn round_bf16(v: f32) -> u16 {
    let v = ftz(v);
    if is_nan_bits(v) {
        return CANONICAL_BF16_NAN_BITS;
    }
    let bits = v.to_bits();
    // Adding 0x7FFF plus the lowest kept bit rounds to nearest with ties to even; a carry
    // out of the mantissa correctly bumps the exponent (up to infinity). No overflow of the
    // u32: the largest non-NaN pattern is 0xFF80_0000.
    let rounded = bits + 0x7FFF + ((bits >> 16) & 1);
    let half = (rounded >> 16) as u16;
    if half & 0x7F80 == 0 {
        half & 0x8000
    } else {
        half
    }
}

/// The f32 with the same value as the bf16 `bits` (exact: bf16 is the top half of an f32).
#[inline(always)]
pub fn widen_bf16(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// The factor domain of DETERMINISM.md §3 applied to bf16 bits: magnitudes below 2^-40
/// become signed zero, magnitudes from 2^64 up (infinities, NaN) the canonical NaN.
#[inline(always)]
pub fn domain_bf16(bits: u16) -> u16 {
    let magnitude = bits & 0x7FFF;
    if magnitude >= BF16_DOMAIN_MAX_BITS {
        CANONICAL_BF16_NAN_BITS
    } else if magnitude < BF16_DOMAIN_MIN_BITS {
        bits & 0x8000
    } else {
        bits
    }
}

/// An activation as a matrix product or attention reads it: rounded to bf16, clamped to
/// the factor domain, widened back to f32.
#[inline(always)]
pub fn bf16_factor(v: f32) -> f32 {
    widen_bf16(domain_bf16(round_bf16(v)))
}

/// The f32 with the same value as the f16 `bits` (exact; f16 denormals become normal f32).
///
/// Written as integer ops and one multiply by 2^112 so the compiler can vectorize it; the
/// `half` crate converts one value at a time behind a runtime feature check. Backends that
/// flush denormals must not route f16 denormals through an f32 denormal as this does: any
/// exact conversion gives the same value.
#[inline(always)]
pub fn widen_f16(bits: u16) -> f32 {
    let sign = u32::from(bits & 0x8000) << 16;
    let magnitude = u32::from(bits & 0x7FFF);
    // Shifting lines the f16 exponent and mantissa up with f32's; the multiply re-biases
    // the exponent from 15 to 127 (and normalises f16 denormals), exactly.
    let finite = f32::from_bits(magnitude << 13) * f32::from_bits((127 + 112) << 23);
    let value = if magnitude >= 0x7C00 {
        f32::from_bits(0x7F80_0000 | ((magnitude & 0x03FF) << 13))
    } else {
        finite
    };
    f32::from_bits(value.to_bits() | sign)
}

/// Rounds every value of `src` to bf16 ([`round_bf16`]) into `dst`: how K and V enter the
/// KV cache.
pub fn to_bf16(src: &[f32], dst: &mut [bf16]) -> Result<(), OpsError> {
    check_len("to_bf16", "dst", src.len(), dst.len())?;
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = bf16::from_bits(round_bf16(s));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    #[test]
    fn round_bf16_is_round_to_nearest_even() {
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
        assert_eq!(round_bf16(1.0 + 2.0f32.powi(-8)), 0x3F80);
        // 1 + 3*2^-8 is halfway between 1+2^-7 (odd) and 1+2^-6 (even).
        assert_eq!(round_bf16(1.0 + 3.0 * 2.0f32.powi(-8)), 0x3F82);
        assert_eq!(round_bf16(1.0 + 2.0f32.powi(-8) + 2.0f32.powi(-20)), 0x3F81);
        assert_eq!(round_bf16(-2.5), 0xC020);
    }

    #[test]
    fn round_bf16_matches_half_crate_on_normal_values() {
        let mut state = 0x1234_5678u32;
        for _ in 0..200_000 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let v = f32::from_bits(state);
            if !v.is_finite() || v.abs() < 1.0e-37 || v.abs() > 3.0e38 {
                continue;
            }
            assert_eq!(round_bf16(v), bf16::from_f32(v).to_bits(), "{v:e}");
        }
    }

    #[test]
    fn round_bf16_policy_for_nan_overflow_and_denormals() {
        assert_eq!(
            round_bf16(f32::from_bits(0xFFC0_0001)),
            CANONICAL_BF16_NAN_BITS
        );
        assert_eq!(round_bf16(f32::MAX), 0x7F80);
        assert_eq!(round_bf16(-f32::MAX), 0xFF80);
        assert_eq!(round_bf16(f32::NEG_INFINITY), 0xFF80);
        assert_eq!(round_bf16(-f32::from_bits(0x007F_FFFF)), 0x8000);
        // A denormal input counts as zero even where rounding would carry it to a normal.
        assert_eq!(round_bf16(f32::from_bits(0x007F_FFFF)), 0x0000);
        assert_eq!(round_bf16(f32::from_bits(0x0080_0001)), 0x0080);
    }

    #[test]
    fn widen_f16_is_exact_for_every_f16() {
        for bits in 0..=u16::MAX {
            let expected = f16::from_bits(bits).to_f32();
            let got = widen_f16(bits);
            if expected.is_nan() {
                assert!(got.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(got.to_bits(), expected.to_bits(), "{bits:#06x}");
            }
        }
    }

    #[test]
    fn domain_bf16_agrees_with_f32_domain() {
        for bits in 0..=u16::MAX {
            let via_bits = widen_bf16(domain_bf16(bits));
            let via_f32 = crate::exact_product::domain(widen_bf16(bits));
            assert_eq!(via_bits.is_nan(), via_f32.is_nan(), "{bits:#06x}");
            if !via_f32.is_nan() {
                assert_eq!(via_bits.to_bits(), via_f32.to_bits(), "{bits:#06x}");
            }
        }
    }
}
