//! Activations as two int8 limbs per value with one power-of-two scale per block of 32
//! (DETERMINISM.md §3b): what a product over quantized weights multiplies.
//!
//! Block `b` is cut to `(q_i + r_i / 256) * 2^k`: `2^k` brings the block's largest magnitude
//! into [64, 128), `q_i` is the value rounded to an integer and `r_i` its remainder in
//! 256ths, both within ±127. That keeps about 15 bits of every value against its block's
//! largest, more than bf16's 8 for all but values far below it. A power of two keeps every
//! step exact: `x * 2^-k`, the remainder and `* 256` are all representable, so only the two
//! roundings to integers lose anything, and `d * 2^k` (a weight scale times the block's)
//! is an exact product.

use multiversion::multiversion;
use rayon::prelude::*;

use crate::canonical::canonical_nan;
use crate::exact_product::domain;
use crate::quantized::QUANT_BLOCK;
use crate::tasks::TASK_ELEMENTS;

/// The exponent given to a block whose values are all zero, and the least any block gets:
/// the factor domain's smallest exponent (§3).
const MIN_EXPONENT: i32 = -40;
/// `k = E - HEADROOM` puts the largest magnitude `m * 2^E` (`1 <= m < 2`) at `m * 64`.
const HEADROOM: i32 = 6;
/// The largest limb magnitude: 128 (a value that rounds up to it) is clamped.
const LIMB_MAX: f32 = 127.0;
/// The low limb counts 256ths of the high one's unit.
pub const LOW_LIMB_SHIFT: i32 = 8;

/// One block's limbs and scale `2^k` (NaN, with every limb 0, when the block holds a value
/// the factor domain makes NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Int8Block {
    pub high: [i8; QUANT_BLOCK],
    pub low: [i8; QUANT_BLOCK],
    pub scale: f32,
}

/// Activation rows as int8 blocks, limbs in the shape of the rows, one scale per block.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Rows {
    pub high: Vec<i8>,
    pub low: Vec<i8>,
    pub scales: Vec<f32>,
}

/// 1.5 * 2^23: adding it to a value below 2^22 in magnitude leaves that value rounded to an
/// integer, ties to even, in the low bits; subtracting it again is exact.
const ROUNDER: f32 = 12_582_912.0;

/// `v` (below 2^22 in magnitude) rounded to an integer, ties to even, then clamped to
/// ±127. Written as the add and subtract of [`ROUNDER`] rather than `round_ties_even`,
/// which compiled to a call of libm's `rintf` per value in the SIMD clones.
#[inline(always)]
fn limb(v: f32) -> f32 {
    ((v + ROUNDER) - ROUNDER).clamp(-LIMB_MAX, LIMB_MAX)
}

/// An integral `v` within ±127 as an i8: the low byte of `v + ROUNDER`'s bits, which hold
/// `v` in two's complement. (`v as i8` saturates, and its NaN check kept the loop scalar.)
#[inline(always)]
fn to_i8(v: f32) -> i8 {
    (v + ROUNDER).to_bits() as u8 as i8
}

/// One block of 32 activations.
#[inline(always)]
pub fn quantize_block(x: &[f32; QUANT_BLOCK]) -> Int8Block {
    // Written for the vectoriser: plain loops (array `map`s stayed calls), one pass for the
    // domain and the largest magnitude, no early exit inside a loop, no saturating casts.
    let mut v = [0.0f32; QUANT_BLOCK];
    let mut largest = 0u32;
    for (v, &x) in v.iter_mut().zip(x) {
        *v = domain(x);
        largest = largest.max(v.to_bits() & 0x7FFF_FFFF);
    }
    // After the domain no value is infinite: a magnitude above infinity's is a NaN.
    if largest > f32::INFINITY.to_bits() {
        return Int8Block {
            high: [0; QUANT_BLOCK],
            low: [0; QUANT_BLOCK],
            scale: canonical_nan(),
        };
    }
    // After the domain every nonzero magnitude is a normal f32: its exponent field is E.
    let exponent = if largest == 0 {
        MIN_EXPONENT
    } else {
        ((largest >> 23) as i32 - 127).max(MIN_EXPONENT)
    };
    let k = exponent - HEADROOM;
    // k lies in [-46, 57]: both 2^k and 2^-k are normal f32.
    let inverse = f32::from_bits(((127 - k) as u32) << 23);
    let mut block = Int8Block {
        high: [0; QUANT_BLOCK],
        low: [0; QUANT_BLOCK],
        scale: f32::from_bits(((127 + k) as u32) << 23),
    };
    for ((high, low), &v) in block.high.iter_mut().zip(&mut block.low).zip(&v) {
        let scaled = v * inverse;
        let h = limb(scaled);
        // The remainder is exact (the two are within 1 of each other, and both multiples
        // of the same small power of two), and so is its scaling by 256.
        let l = limb((scaled - h) * 256.0);
        *high = to_i8(h);
        *low = to_i8(l);
    }
    block
}

/// Every block of `x` (a whole number of 32-value blocks), in parallel for long inputs.
pub fn quantize_rows(x: &[f32]) -> Int8Rows {
    let (blocks, rest) = x.as_chunks::<QUANT_BLOCK>();
    assert!(rest.is_empty(), "activation rows are whole 32-value blocks");
    let mut high = vec![0i8; x.len()];
    let mut low = vec![0i8; x.len()];
    let mut scales = vec![0.0f32; blocks.len()];
    // The ops' task size (a decode step's few blocks run on the calling thread).
    const BLOCKS_PER_TASK: usize = TASK_ELEMENTS / QUANT_BLOCK;
    high.par_chunks_mut(QUANT_BLOCK * BLOCKS_PER_TASK)
        .zip(low.par_chunks_mut(QUANT_BLOCK * BLOCKS_PER_TASK))
        .zip(scales.par_chunks_mut(BLOCKS_PER_TASK))
        .zip(blocks.par_chunks(BLOCKS_PER_TASK))
        .for_each(|(((high, low), scales), blocks)| quantize_many(blocks, high, low, scales));
    Int8Rows { high, low, scales }
}

/// [`quantize_block`] over `blocks`, compiled for each SIMD level.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn quantize_many(
    blocks: &[[f32; QUANT_BLOCK]],
    high: &mut [i8],
    low: &mut [i8],
    scales: &mut [f32],
) {
    for (((block, high), low), scale) in blocks
        .iter()
        .zip(high.chunks_exact_mut(QUANT_BLOCK))
        .zip(low.chunks_exact_mut(QUANT_BLOCK))
        .zip(scales)
    {
        let b = quantize_block(block);
        high.copy_from_slice(&b.high);
        low.copy_from_slice(&b.low);
        *scale = b.scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(values: &[f32]) -> [f32; QUANT_BLOCK] {
        let mut b = [0.0; QUANT_BLOCK];
        b[..values.len()].copy_from_slice(values);
        b
    }

    #[test]
    fn limbs_hold_the_value_to_a_256th_of_the_scale_and_round_half_to_even() {
        // Largest 3.0 = 1.5 * 2^1: k = -5, scale 2^-5, 3.0 -> 96.
        let b = quantize_block(&block(&[3.0, -1.0, 0.75 / 32.0, 1.5 / 32.0, 0.1]));
        assert_eq!(b.scale, 2.0f32.powi(-5));
        assert_eq!(&b.high[..4], &[96, -32, 1, 2]); // 0.75 -> 1, 1.5 -> 2 (ties to even)
        // Remainders: -0.25 -> -64, -0.5 -> -128, clamped to -127.
        assert_eq!(&b.low[..4], &[0, 0, -64, -127]);
        // 0.1 * 32 = 3.2 = 3 + 51.2 / 256.
        assert_eq!((b.high[4], b.low[4]), (3, 51));
    }

    #[test]
    fn a_value_that_rounds_to_128_is_clamped_and_a_nan_poisons_the_block() {
        let b = quantize_block(&block(&[1.999, -1.999]));
        assert_eq!(
            (b.high[0], b.high[1], b.scale),
            (127, -127, 2.0f32.powi(-6))
        );
        let b = quantize_block(&block(&[1.0, f32::INFINITY]));
        assert!(b.scale.is_nan());
        assert!(b.high.iter().chain(&b.low).all(|&q| q == 0));
    }

    #[test]
    fn zero_and_tiny_blocks_take_the_domains_least_exponent() {
        let b = quantize_block(&block(&[]));
        assert_eq!(b.scale, 2.0f32.powi(-46));
        assert!(b.high.iter().chain(&b.low).all(|&q| q == 0));
        // Below 2^-40 the domain makes values zero.
        let b = quantize_block(&block(&[1e-13, 2.0f32.powi(-40)]));
        assert_eq!(b.scale, 2.0f32.powi(-46));
        assert_eq!(&b.high[..2], &[0, 64]);
    }

    #[test]
    fn rows_equal_their_blocks_one_by_one() {
        let x: Vec<f32> = (0..32 * 300)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.37)
            .collect();
        let rows = quantize_rows(&x);
        for (b, block) in x.as_chunks::<QUANT_BLOCK>().0.iter().enumerate() {
            let one = quantize_block(block);
            assert_eq!(&rows.high[32 * b..32 * b + 32], &one.high);
            assert_eq!(&rows.low[32 * b..32 * b + 32], &one.low);
            assert_eq!(rows.scales[b].to_bits(), one.scale.to_bits());
        }
    }
}
