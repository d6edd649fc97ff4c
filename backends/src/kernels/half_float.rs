//! bf16 and f16 on the device, by integer operations, mirroring `fak_ops::{round_bf16,
//! widen_bf16, domain_bf16, bf16_factor, widen_f16}` (DETERMINISM.md §2).
//!
//! 16-bit values live packed two to a `u32` word, element `2i` in the low half and `2i + 1`
//! in the high half: the little-endian byte order of a bf16/f16 tensor, so host bytes are
//! uploaded as they are. A 16-bit value is carried in the low bits of a `u32`.

use cubecl::prelude::*;

use super::canonical::{INFINITY_BITS, ftz, is_nan};
use super::exact_product::f32_from_bits;

const CANONICAL_BF16_NAN_BITS: u32 = 0x7FC0;
/// bf16 magnitudes at or above 2^64 are outside the factor domain.
const BF16_DOMAIN_MAX_BITS: u32 = 191 << 7;
/// bf16 magnitudes below 2^-40 are outside the factor domain.
const BF16_DOMAIN_MIN_BITS: u32 = 87 << 7;

/// The bits of `v` rounded to the nearest bf16, ties to even: denormal inputs count as
/// zero, bf16 denormal results become signed zero, every NaN becomes `0x7FC0`.
#[cube]
pub fn round_bf16(v: f32) -> u32 {
    let v = ftz(v);
    if is_nan(v) {
        CANONICAL_BF16_NAN_BITS.runtime()
    } else {
        let bits = u32::reinterpret(v);
        // Adding 0x7FFF plus the lowest kept bit rounds to nearest, ties to even; a carry
        // into the exponent is correct rounding. No u32 overflow below the NaN patterns.
        let half = (bits + 0x7FFFu32 + ((bits >> 16) & 1)) >> 16;
        if half & 0x7F80u32 == 0 {
            half & 0x8000u32
        } else {
            half
        }
    }
}

/// The f32 of the bf16 `bits` (exact).
#[cube]
pub fn widen_bf16(bits: u32) -> f32 {
    f32::reinterpret(bits << 16)
}

/// The factor domain on bf16 bits: below 2^-40 signed zero, from 2^64 up the bf16 NaN.
#[cube]
pub fn domain_bf16(bits: u32) -> u32 {
    let magnitude = bits & 0x7FFFu32;
    if magnitude >= BF16_DOMAIN_MAX_BITS {
        CANONICAL_BF16_NAN_BITS.runtime()
    } else if magnitude < BF16_DOMAIN_MIN_BITS {
        bits & 0x8000u32
    } else {
        bits
    }
}

/// An activation as a matrix product or attention reads it: rounded to bf16, clamped to the
/// factor domain, widened back.
#[cube]
pub fn bf16_factor(v: f32) -> f32 {
    widen_bf16(domain_bf16(round_bf16(v)))
}

/// The f32 of the f16 `bits`, exactly. Unlike the CPU (which multiplies a shifted pattern
/// by 2^112 and so passes an f16 denormal through an f32 denormal), f16 denormals are
/// converted as `mantissa * 2^-24`: an integer-to-float conversion and a product by a power
/// of two, both exact and both free of denormals, so a device that flushes them gets the
/// same value.
#[cube]
pub fn widen_f16(bits: u32) -> f32 {
    let sign = (bits & 0x8000u32) << 16;
    let exponent = (bits >> 10) & 0x1Fu32;
    let mantissa = bits & 0x03FFu32;
    let magnitude = if exponent == 0x1Fu32 {
        INFINITY_BITS | (mantissa << 13)
    } else if exponent == 0 {
        // 2^-24 is 0x3380_0000.
        u32::reinterpret(f32::cast_from(mantissa) * f32_from_bits(0x3380_0000u32))
    } else {
        ((exponent + 112) << 23) | (mantissa << 13)
    };
    f32::reinterpret(magnitude | sign)
}

/// Element `index` of a 16-bit array packed two to a word.
#[cube]
pub fn packed_half(words: &Array<u32>, index: usize) -> u32 {
    let word = words[index / 2];
    if index & 1 == 0 {
        word & 0xFFFFu32
    } else {
        word >> 16
    }
}
