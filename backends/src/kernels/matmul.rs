//! Matrix products, mirroring `fak_ops::matmul` (DETERMINISM.md §6): one 32-unit lane
//! group per (output row, token), unit `j` being lane `j` of the canonical reduction, then
//! the halving tree and `canonical`.
//!
//! - bf16, f16 and f32 weights ([`matmul`]): activations rounded to bf16 once
//!   ([`bf16_factors`]), then exact products over the weight row, element `i` in lane
//!   `i % 32`; bf16 weights in pair lanes (lane `j < 16` takes column `2j + 1` of each
//!   32-column chunk, then `2j`; lanes 16..32 add nothing).
//! - Q8_0, Q5_0, Q4_K and Q6_K weights ([`matmul_blocks`], §3b): activations as two int8
//!   limbs per value with a power-of-two scale per block (`int8::quantize_blocks`),
//!   weights as integer chunks (`quantized`). Unit `j < 16` takes blocks `j, j + 16, ...`
//!   in increasing order and adds, per block, the exact products of `f = d * s_b` with the
//!   high and low pieces of the block's integer sum against the high limbs, then of
//!   `f * 2^-8` with those against the low limbs; where the type combines the limbs
//!   (Q5_0), the products of `f * 2^-8` with the pieces of `256 I(q) + I(p)` instead (for
//!   Q4_K then those of `-(dmin * s_b) * 2^-8` with the pieces of `256 M(q) + M(p)`);
//!   units 16..32 add nothing. The integer sums are exact in i32, so the order they are
//!   computed in is free.

use cubecl::prelude::*;
use fak_ops::{LOW_LIMB_SHIFT, QUANT_BLOCK};

use super::canonical::canonical;
use super::exact_product::{domain, head, ordered};
use super::grid::element_index;
use super::half_float::{bf16_factor, domain_bf16, packed_half, widen_bf16, widen_f16};
use super::int8::LOW_UNIT;
use super::quantized::{
    QUANT_WORDS, byte_at, chunk_beta, chunk_d, chunk_dmin, chunk_min, chunk_scale, chunk_words,
    quant_word,
};
use super::reduce::{LANES, fold_sum, load_lanes};

/// Weight element types, as the kernels' compile-time `dtype`.
pub const DTYPE_BF16: u32 = 0;
pub const DTYPE_F16: u32 = 1;
pub const DTYPE_F32: u32 = 2;
/// Integer chunks (`quantized`) whose limbs' sums enter one by one: Q8_0, Q6_K.
pub const DTYPE_INT_CHUNKS: u32 = 3;
/// Integer chunks with a minimum: Q4_K.
pub const DTYPE_INT_CHUNKS_MIN: u32 = 4;
/// Integer chunks whose limbs' sums enter combined (`QuantBlock::COMBINED_LIMBS`): Q5_0.
pub const DTYPE_INT_CHUNKS_COMBINED: u32 = 5;

/// Weight rows per cube: one 32-unit lane group per row.
pub const ROWS_PER_CUBE: u32 = 8;

/// The lanes quantized blocks go to: block `b` to lane `b % 16`.
const BLOCK_LANES: usize = LANES / 2;
/// `lo = n & PIECE_MASK` and `hi = n - lo` split an integer within 2^26 in magnitude into
/// two pieces of at most 13 significant bits each, so each product with a scale of at most
/// 11 (an f16's) is exact.
const PIECE_MASK: i32 = (1 << 13) - 1;
/// What the high limbs' sum is multiplied by to combine it with the low ones': 2^8.
const LIMB_RADIX: i32 = 1 << LOW_LIMB_SHIFT;

/// `out[i] = bf16_factor(x[i])`: every activation rounded to bf16 once per product.
#[cube(launch)]
pub fn bf16_factors(x: &Array<f32>, out: &mut Array<f32>, n: u32) {
    let i = element_index();
    if i < n as usize {
        out[i] = bf16_factor(x[i]);
    }
}

/// One chunk of bf16, f16 or f32 weight rows against every activation row.
///
/// `w` holds rows `row_offset .. row_offset + chunk_rows` of a `total_rows x cols` matrix
/// (a large matrix is uploaded as several chunks, each within one storage binding);
/// `xf` holds `tokens x cols` activation factors; output `(t, r)` goes to
/// `out[t * total_rows + r]`. Cube `c` takes token `c / row_groups` and rows
/// `(c % row_groups) * ROWS_PER_CUBE ..`; unit `(lane, y)` is lane `lane` of row `y`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    w: &Array<u32>,
    xf: &Array<f32>,
    out: &mut Array<f32>,
    tokens: u32,
    cols: u32,
    chunk_rows: u32,
    row_groups: u32,
    total_rows: u32,
    row_offset: u32,
    #[comptime] dtype: u32,
) {
    let mut shared = SharedMemory::<f32>::new(LANES * ROWS_PER_CUBE as usize);
    // The whole cube takes this branch or none: the barrier in `finish_row` stays uniform.
    if CUBE_POS < (row_groups * tokens) as usize {
        let token = CUBE_POS / row_groups as usize;
        let row = group_row(row_groups);
        let cols = cols as usize;
        let mut acc = 0.0f32;
        if row < chunk_rows as usize {
            acc = element_lane(w, xf, token * cols, row * cols, cols, dtype);
        }
        let index = token * total_rows as usize + row_offset as usize + row;
        finish_row(&mut shared, acc, out, index, row < chunk_rows as usize);
    }
}

/// One chunk of quantized weight rows (integer chunks) against every activation row, as
/// `int8::quantize_blocks` writes them: `limbs` (per block of 32 values, 32 high limbs then
/// 32 low ones) and `scales` (one per block). Rows, chunks and outputs as in [`matmul`].
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn matmul_blocks(
    w: &Array<u32>,
    limbs: &Array<i32>,
    scales: &Array<f32>,
    out: &mut Array<f32>,
    tokens: u32,
    cols: u32,
    chunk_rows: u32,
    row_groups: u32,
    total_rows: u32,
    row_offset: u32,
    #[comptime] dtype: u32,
) {
    let mut shared = SharedMemory::<f32>::new(LANES * ROWS_PER_CUBE as usize);
    // The whole cube takes this branch or none: the barrier in `finish_row` stays uniform.
    if CUBE_POS < (row_groups * tokens) as usize {
        let token = CUBE_POS / row_groups as usize;
        let row = group_row(row_groups);
        let blocks = cols as usize / QUANT_BLOCK;
        let mut acc = 0.0f32;
        if row < chunk_rows as usize && (UNIT_POS_X as usize) < BLOCK_LANES {
            acc = block_lane(
                w,
                limbs,
                scales,
                row * blocks,
                token * blocks,
                blocks,
                dtype,
            );
        }
        let index = token * total_rows as usize + row_offset as usize + row;
        finish_row(&mut shared, acc, out, index, row < chunk_rows as usize);
    }
}

/// The weight row (within the chunk) of this unit's lane group.
#[cube]
fn group_row(row_groups: u32) -> usize {
    (CUBE_POS % row_groups as usize) * ROWS_PER_CUBE as usize + UNIT_POS_Y as usize
}

/// Stores this unit's lane; after the cube's barrier, lane 0 of each row folds its 32
/// lanes and, when `write`, stores the canonical sum at `out[index]`.
#[cube]
fn finish_row(
    shared: &mut SharedMemory<f32>,
    acc: f32,
    out: &mut Array<f32>,
    index: usize,
    write: bool,
) {
    let lane = UNIT_POS_X as usize;
    let base = UNIT_POS_Y as usize * LANES;
    shared[base + lane] = acc;
    sync_cube();
    if lane == 0 && write {
        let mut lanes = Array::<f32>::new(LANES);
        load_lanes(shared, base, &mut lanes);
        out[index] = canonical(fold_sum(&mut lanes));
    }
}

/// Element `index` of a weight chunk as the factor (bf16, f16) that multiplies an
/// activation factor; f32 weights are split by the caller instead.
#[cube]
fn half_weight(w: &Array<u32>, index: usize, #[comptime] dtype: u32) -> f32 {
    if comptime!(dtype == DTYPE_BF16) {
        widen_bf16(domain_bf16(packed_half(w, index)))
    } else {
        widen_f16(packed_half(w, index))
    }
}

/// This unit's lane of the row at `w_base` against the token at `x_base`.
#[cube]
fn element_lane(
    w: &Array<u32>,
    xf: &Array<f32>,
    x_base: usize,
    w_base: usize,
    cols: usize,
    #[comptime] dtype: u32,
) -> f32 {
    let lane = UNIT_POS_X as usize;
    let mut acc = 0.0f32;
    if comptime!(dtype == DTYPE_BF16) {
        if lane < LANES / 2 {
            for chunk in range_stepped(0, cols, LANES) {
                let odd = chunk + 2 * lane + 1;
                let even = chunk + 2 * lane;
                if odd < cols {
                    acc += half_weight(w, w_base + odd, dtype) * xf[x_base + odd];
                }
                if even < cols {
                    acc += half_weight(w, w_base + even, dtype) * xf[x_base + even];
                }
            }
        }
    } else {
        for i in range_stepped(lane, cols, LANES) {
            let x = xf[x_base + i];
            if comptime!(dtype == DTYPE_F32) {
                let v = domain(f32::reinterpret(w[w_base + i]));
                let h = head(v);
                acc += h * x;
                acc += (v - h) * x;
            } else {
                acc += half_weight(w, w_base + i, dtype) * x;
            }
        }
    }
    acc
}

/// This unit's lane (`j < 16`) of a quantized row whose chunks are `w_chunk ..` (in
/// chunks) against the token whose blocks are `x_block ..`: blocks `j, j + 16, ...`.
#[cube]
fn block_lane(
    w: &Array<u32>,
    limbs: &Array<i32>,
    scales: &Array<f32>,
    w_chunk: usize,
    x_block: usize,
    blocks: usize,
    #[comptime] dtype: u32,
) -> f32 {
    let has_min = comptime!(dtype == DTYPE_INT_CHUNKS_MIN);
    let combined = comptime!(dtype == DTYPE_INT_CHUNKS_COMBINED);
    let words = comptime!(chunk_words(has_min));
    let mut acc = 0.0f32;
    for b in range_stepped(UNIT_POS_X as usize, blocks, BLOCK_LANES) {
        let base = (w_chunk + b) * words;
        let high = (x_block + b) * 2 * QUANT_BLOCK;
        let low = high + QUANT_BLOCK;
        let s = scales[x_block + b];
        let f = chunk_d(w, base) * s;
        let int_high = block_sum(w, base, limbs, high);
        let int_low = block_sum(w, base, limbs, low);
        if combined {
            acc = add_scaled(f * LOW_UNIT, int_high * LIMB_RADIX + int_low, acc);
        } else {
            acc = add_scaled(f, int_high, acc);
            acc = add_scaled(f * LOW_UNIT, int_low, acc);
        }
        if has_min {
            let g = -(chunk_dmin(w, base) * s) * LOW_UNIT;
            let sums = limb_sum(limbs, high) * LIMB_RADIX + limb_sum(limbs, low);
            acc = add_scaled(g, chunk_min(w, base) * sums, acc);
        }
    }
    acc
}

/// `I = a * sum_{i<16} (u_i - beta) l_i + a' * sum_{i>=16} (u_i - beta) l_i` for the chunk
/// at `base` against the 32 limbs `l` at `limbs[x..]`.
#[cube]
fn block_sum(w: &Array<u32>, base: usize, limbs: &Array<i32>, x: usize) -> i32 {
    let beta = chunk_beta(w, base);
    let first = half_sum(w, base, limbs, x, beta, 0usize);
    let second = half_sum(w, base, limbs, x, beta, 1usize);
    chunk_scale(w, base, 0u32) * first + chunk_scale(w, base, 1u32) * second
}

/// `sum (u_i - beta) l_i` over half `h` (weights `16h .. 16h + 16`) of the chunk at `base`.
#[cube]
fn half_sum(
    w: &Array<u32>,
    base: usize,
    limbs: &Array<i32>,
    x: usize,
    beta: i32,
    #[comptime] h: usize,
) -> i32 {
    let mut sum = 0i32;
    #[unroll]
    for k in 0..QUANT_WORDS / 2 {
        let word_index = h * (QUANT_WORDS / 2) + k;
        let word = quant_word(w, base, word_index);
        #[unroll]
        for j in 0..4usize {
            let u = byte_at(word, u32::cast_from(j));
            sum += (u - beta) * limbs[x + 4 * word_index + j];
        }
    }
    sum
}

/// The sum of the 32 limbs at `limbs[x..]`.
#[cube]
fn limb_sum(limbs: &Array<i32>, x: usize) -> i32 {
    let mut sum = 0i32;
    for i in 0..QUANT_BLOCK {
        sum += limbs[x + i];
    }
    sum
}

/// `acc` plus `f * n` as the exact products `f * hi`, then `f * lo`, with `n = hi + lo`
/// and `0 <= lo < 8192`, mirroring `fak_ops`' `add_scaled`. Each partial sum passes
/// [`ordered`], so no shader compiler can regroup the adds (DETERMINISM.md §10).
#[cube]
fn add_scaled(f: f32, n: i32, acc: f32) -> f32 {
    let lo = n & PIECE_MASK;
    let hi = n - lo;
    let acc = ordered(f * f32::cast_from(hi) + acc);
    ordered(f * f32::cast_from(lo) + acc)
}
