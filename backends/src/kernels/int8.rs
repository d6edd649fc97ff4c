//! Activations as two int8 limbs per value with one power-of-two scale per block of 32,
//! mirroring `fak_ops::quantize_block` (DETERMINISM.md §3b): what a product over quantized
//! weights multiplies.
//!
//! The limbs are computed as the CPU computes them: `t = v * 2^-k` (exact), the high limb
//! `t` rounded half to even and clamped, the low limb `(t - high) * 256` (exact) rounded and
//! clamped the same way. The rounding is [`round_half_even`] on the bits, since the CPU's
//! `round_ties_even` may compile to `(t + M) - M`, which a shader compiler folds (§10).

use cubecl::prelude::*;
use fak_ops::{LOW_LIMB_SHIFT, QUANT_BLOCK};

use super::canonical::{CANONICAL_NAN_BITS, EXPONENT_MASK, MAGNITUDE_MASK};
use super::exact_product::{domain, f32_from_bits};
use super::grid::element_index;
use super::math::round_half_even;

/// The exponent of an all-zero block, and the least any block gets: the factor domain's
/// smallest (§3).
const MIN_EXPONENT: i32 = -40;
/// `k = E - HEADROOM` puts the largest magnitude `m * 2^E` at `m * 64`.
const HEADROOM: i32 = 6;
/// The largest limb magnitude: a value that rounds up to 128 is clamped.
const LIMB_MAX: i32 = 127;
/// The f32 exponent bias.
const EXPONENT_BIAS: i32 = 127;
/// What the remainder is scaled by before it is rounded to the low limb: 2^8.
const LIMB_RADIX: f32 = f32::from_bits(((EXPONENT_BIAS + LOW_LIMB_SHIFT) as u32) << 23);
/// The weight of a low limb against a high one: 2^-8.
pub const LOW_UNIT: f32 = f32::from_bits(((EXPONENT_BIAS - LOW_LIMB_SHIFT) as u32) << 23);

/// Block `b` of `x` (values `32b .. 32b + 32`; a token row is whole blocks) as its 32 high
/// limbs at `limbs[64b ..]`, its 32 low limbs after them, and `scales[b]`: `2^k`, or NaN
/// with every limb 0 when a value is NaN after the domain.
#[cube(launch)]
pub fn quantize_blocks(
    x: &Array<f32>,
    limbs: &mut Array<i32>,
    scales: &mut Array<f32>,
    blocks: u32,
) {
    let b = element_index();
    if b < blocks as usize {
        let base = b * QUANT_BLOCK;
        let high = 2 * base;
        let low = high + QUANT_BLOCK;
        let largest = largest_magnitude(x, base);
        // The domain leaves no infinity: a magnitude above the exponent mask is a NaN.
        if largest > EXPONENT_MASK {
            for i in 0..QUANT_BLOCK {
                limbs[high + i] = 0i32;
                limbs[low + i] = 0i32;
            }
            scales[b] = f32_from_bits(CANONICAL_NAN_BITS);
        } else {
            // Every nonzero magnitude left by the domain is a normal f32 of exponent at
            // least -40, so the floor only matters for an all-zero block.
            let exponent = max(i32::cast_from(largest >> 23) - EXPONENT_BIAS, MIN_EXPONENT);
            let k = exponent - HEADROOM;
            // k lies in [-46, 57]: 2^k and 2^-k are normal f32.
            let inverse = f32::reinterpret(u32::cast_from(EXPONENT_BIAS - k) << 23);
            for i in 0..QUANT_BLOCK {
                let t = domain(x[base + i]) * inverse;
                let h = limb(t);
                limbs[high + i] = h;
                // Exact: `t` and `h` are within 1 of each other and multiples of the same
                // small power of two, and the product is by a power of two.
                limbs[low + i] = limb((t - f32::cast_from(h)) * LIMB_RADIX);
            }
            scales[b] = f32::reinterpret(u32::cast_from(EXPONENT_BIAS + k) << 23);
        }
    }
}

/// `t` rounded to an integer, ties to even, then clamped to ±127.
#[cube]
fn limb(t: f32) -> i32 {
    min(max(round_half_even(t), -LIMB_MAX), LIMB_MAX)
}

/// The largest magnitude bits of the block at `base` after the domain.
#[cube]
fn largest_magnitude(x: &Array<f32>, base: usize) -> u32 {
    let mut largest = 0u32;
    for i in 0..QUANT_BLOCK {
        largest = max(
            largest,
            u32::reinterpret(domain(x[base + i])) & MAGNITUDE_MASK,
        );
    }
    largest
}
