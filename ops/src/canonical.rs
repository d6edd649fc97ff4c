//! Canonical f32 values: no denormals and a single NaN.
//!
//! Backends disagree about denormals (llvmpipe flushes them, a CPU keeps them) and about NaN
//! payloads. Every op reads its inputs through [`ftz`] and writes its outputs through
//! [`canonical`], so neither difference can reach a stored bit (DETERMINISM.md §5).

/// The bits of the one NaN that ops emit: positive, quiet, zero payload.
pub const CANONICAL_NAN_BITS: u32 = 0x7FC0_0000;

const EXPONENT_MASK: u32 = 0x7F80_0000;
const SIGN_MASK: u32 = 0x8000_0000;
const MAGNITUDE_MASK: u32 = 0x7FFF_FFFF;

/// The canonical NaN as a value.
#[inline(always)]
pub fn canonical_nan() -> f32 {
    f32::from_bits(CANONICAL_NAN_BITS)
}

/// Flushes a denormal to zero of the same sign; every other value is returned unchanged.
#[inline(always)]
pub fn ftz(v: f32) -> f32 {
    let bits = v.to_bits();
    if bits & EXPONENT_MASK == 0 {
        f32::from_bits(bits & SIGN_MASK)
    } else {
        v
    }
}

/// True for every NaN, tested on the bits so the check is the same on every backend.
#[inline(always)]
pub fn is_nan_bits(v: f32) -> bool {
    v.to_bits() & MAGNITUDE_MASK > EXPONENT_MASK
}

/// The value an op stores: denormals flushed to signed zero, every NaN replaced by
/// [`CANONICAL_NAN_BITS`].
#[inline(always)]
pub fn canonical(v: f32) -> f32 {
    if is_nan_bits(v) {
        canonical_nan()
    } else {
        ftz(v)
    }
}

/// [`canonical`] on each of sixteen lanes, on the bits as the scalar form tests them.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn canonical_lanes(v: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::{
        _mm512_and_si512, _mm512_castps_si512, _mm512_castsi512_ps, _mm512_cmpgt_epi32_mask,
        _mm512_mask_and_epi32, _mm512_mask_mov_epi32, _mm512_set1_epi32, _mm512_testn_epi32_mask,
    };
    let word = |bits: u32| _mm512_set1_epi32(bits.cast_signed());
    let bits = _mm512_castps_si512(v);
    let magnitude = _mm512_and_si512(bits, word(MAGNITUDE_MASK));
    let nan = _mm512_cmpgt_epi32_mask(magnitude, word(EXPONENT_MASK));
    let denormal = _mm512_testn_epi32_mask(bits, word(EXPONENT_MASK));
    let bits = _mm512_mask_and_epi32(bits, denormal, bits, word(SIGN_MASK));
    _mm512_castsi512_ps(_mm512_mask_mov_epi32(bits, nan, word(CANONICAL_NAN_BITS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftz_flushes_denormals_keeping_sign() {
        assert_eq!(ftz(f32::from_bits(1)).to_bits(), 0);
        assert_eq!(ftz(-f32::from_bits(0x007F_FFFF)).to_bits(), SIGN_MASK);
        assert_eq!(ftz(f32::MIN_POSITIVE), f32::MIN_POSITIVE);
        assert_eq!(ftz(-1.5), -1.5);
    }

    #[test]
    fn canonical_replaces_every_nan_payload() {
        for bits in [0x7F80_0001, 0xFFC0_0000, 0x7FFF_FFFF, 0xFF80_1234] {
            assert_eq!(
                canonical(f32::from_bits(bits)).to_bits(),
                CANONICAL_NAN_BITS
            );
        }
        assert_eq!(canonical(f32::INFINITY), f32::INFINITY);
        assert_eq!(canonical(f32::NEG_INFINITY), f32::NEG_INFINITY);
    }

    /// [`canonical_lanes`] on sixteen bit patterns; `None` where this CPU lacks AVX-512,
    /// as the kernels that call it then do not run.
    #[cfg(target_arch = "x86_64")]
    #[multiversion::multiversion(targets("x86_64+avx512f"))]
    fn lanes_of(case: [u32; 16]) -> Option<[u32; 16]> {
        multiversion::target::match_target! {
            "x86_64+avx512f" => Some(bytemuck::cast(canonical_lanes(bytemuck::cast(case)))),
            _ => { let _ = case; None }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn canonical_lanes_gives_the_bits_of_canonical_in_every_lane() {
        let cases: [[u32; 16]; 2] = [
            [
                0x7F80_0001,
                0xFFC0_0000,
                0x7FFF_FFFF,
                0xFF80_1234,
                0x7F80_0000,
                0xFF80_0000,
                0x0000_0001,
                0x8000_0001,
                0x007F_FFFF,
                0x807F_FFFF,
                0x0080_0000,
                0x8080_0000,
                0,
                SIGN_MASK,
                0x3F80_0000,
                0xC2F6_E979,
            ],
            std::array::from_fn(|i| (i as u32).wrapping_mul(0x9E37_79B9)),
        ];
        for case in cases {
            let Some(lanes) = lanes_of(case) else { return };
            for (got, bits) in lanes.into_iter().zip(case) {
                let expected = canonical(f32::from_bits(bits)).to_bits();
                assert_eq!(got, expected, "{bits:#010x}");
            }
        }
    }
}
