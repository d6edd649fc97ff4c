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
}
