//! Causal grouped-query attention over the paged bf16 KV pool, mirroring
//! `fak_ops::attention` (DETERMINISM.md §6, "Attention"): keys in blocks of 32 at fixed
//! absolute positions, combined in block order with an online softmax, optionally over a
//! sliding window (blocks wholly before it skipped, its first block's earlier lanes masked).
//!
//! One 32-unit cube per (query, head); unit `j` is key `j` of the current block, which is
//! exactly lane `j` of the block's max, weight sum and weighted value sums. Logical block
//! `b` of the sequence is physical block `block_table[b]` of the pool.

use cubecl::prelude::*;

use super::canonical::{NEG_INFINITY_BITS, canonical, ftz, max_keep_first, plus_zero};
use super::exact_product::{domain, f32_from_bits, head, split_mul_add};
use super::half_float::{bf16_factor, domain_bf16, packed_half, widen_bf16};
use super::math::{exp, recip};
use super::reduce::{LANES, fold_max, fold_sum, load_lanes};

/// The factor a cached bf16 element contributes to a product.
#[cube]
fn cache_factor(cache: &Array<u32>, index: usize) -> f32 {
    widen_bf16(domain_bf16(packed_half(cache, index)))
}

/// The largest head the kernel takes (Gemma 3 uses 256). One compiled kernel serves every
/// head size up to it: shared and local arrays are sized for it, loops run to `head_dim`.
pub const MAX_HEAD_DIM: usize = 256;

/// `q` and `out` are `[query][head][head_dim]`; query `t` sits at `positions[t]` and sees
/// the keys `max(0, p + 1 - window)..=p` (`window` 0: all of `0..=p`). A pool slot row is
/// `2 * row_words` bf16 values, KV head `g` at `g * head_dim`; `head_dim` is at most
/// [`MAX_HEAD_DIM`].
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn attention(
    q: &Array<f32>,
    positions: &Array<u32>,
    block_table: &Array<u32>,
    k_cache: &Array<u32>,
    v_cache: &Array<u32>,
    out: &mut Array<f32>,
    queries: u32,
    n_heads: u32,
    group: u32,
    head_dim: u32,
    row_words: u32,
    scale: f32,
    window: u32,
) {
    let cube = CUBE_POS;
    let lane = UNIT_POS as usize;
    let head_dim = head_dim as usize;
    let mut qf = SharedMemory::<f32>::new(MAX_HEAD_DIM);
    let mut scores = SharedMemory::<f32>::new(LANES);
    let mut weights = SharedMemory::<f32>::new(LANES);
    // Column `d` of a 32-dimension tile of the block's weighted values: key `j` at
    // `tile[j * 32 + d]`.
    let mut tile = SharedMemory::<f32>::new(LANES * LANES);
    let mut acc = Array::<f32>::new(comptime!(MAX_HEAD_DIM / LANES));
    let mut lanes = Array::<f32>::new(LANES);
    // Uniform per cube, so every barrier below is reached by the whole cube or none.
    if cube < (queries * n_heads) as usize {
        let h = cube % n_heads as usize;
        let position = positions[cube / n_heads as usize] as usize;
        let window = window as usize;
        let mut first = 0usize;
        if window != 0 && position >= window {
            first = position + 1 - window;
        }
        let q_base = cube * head_dim;
        let kv_offset = (h / group as usize) * head_dim;
        let tiles = head_dim.div_ceil(LANES);

        for d in range_stepped(lane, head_dim, LANES) {
            qf[d] = bf16_factor(ftz(q[q_base + d]) * scale);
        }
        for k in 0..tiles {
            acc[k] = 0.0;
        }
        sync_cube();

        let mut running_max = f32_from_bits(NEG_INFINITY_BITS);
        let mut running_sum = 0.0f32;
        for block in first / LANES..position / LANES + 1 {
            let block_start = block * LANES;
            // Lanes `hidden..keys` hold visible keys; `hidden` is nonzero in the first
            // block only. The others are masked as CPU masks them: score -inf, weight and
            // value term +0.0.
            let keys = min(position + 1 - block_start, LANES);
            let mut hidden = 0usize;
            if first > block_start {
                hidden = first - block_start;
            }
            let visible = lane >= hidden && lane < keys;
            let row =
                (block_table[block] as usize * LANES + lane) * 2 * row_words as usize + kv_offset;

            // Score of key `lane`: the canonical reduction over `head_dim`, its 32 lanes
            // summed here one after another.
            let mut score = f32_from_bits(NEG_INFINITY_BITS);
            if visible {
                for l in 0..LANES {
                    let mut sum = 0.0f32;
                    for d in range_stepped(l, head_dim, LANES) {
                        sum += qf[d] * cache_factor(k_cache, row + d);
                    }
                    lanes[l] = sum;
                }
                score = fold_sum(&mut lanes);
            }
            scores[lane] = score;
            sync_cube();

            load_lanes(&scores, 0, &mut lanes);
            let new_max = max_keep_first(running_max, fold_max(&mut lanes));
            let alpha = exp(running_max - new_max);
            let mut weight = 0.0f32;
            if visible {
                weight = domain(exp(score - new_max));
            }
            weights[lane] = weight;
            sync_cube();

            load_lanes(&weights, 0, &mut lanes);
            running_sum = split_mul_add(running_sum, alpha, fold_sum(&mut lanes));

            let w_head = head(weight);
            let w_tail = weight - w_head;
            for k in 0..tiles {
                let tile_start = k * LANES;
                for dd in 0..LANES {
                    let d = tile_start + dd;
                    let mut term = 0.0f32;
                    if visible && d < head_dim {
                        let v = cache_factor(v_cache, row + d);
                        term = w_tail * v + plus_zero(w_head * v);
                    }
                    tile[lane * LANES + dd] = term;
                }
                sync_cube();
                if tile_start + lane < head_dim {
                    #[unroll]
                    for j in 0..LANES {
                        lanes[j] = tile[j * LANES + lane];
                    }
                    acc[k] = split_mul_add(acc[k], alpha, fold_sum(&mut lanes));
                }
                sync_cube();
            }
            running_max = new_max;
        }

        let inv_sum = recip(running_sum);
        for k in 0..tiles {
            let d = k * LANES + lane;
            if d < head_dim {
                out[q_base + d] = canonical(acc[k] * inv_sum);
            }
        }
    }
}
