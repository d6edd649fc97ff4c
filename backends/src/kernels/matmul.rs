//! Matrix products over bf16, f16 or f32 weights, mirroring `fak_ops::matmul`
//! (DETERMINISM.md §6): activations rounded to bf16 once ([`bf16_factors`]), then each
//! output is the canonical 32-lane reduction of exact products over its weight row, bf16
//! weights in pair lanes (lane `j < 16` takes column `2j + 1` of each 32-column chunk, then
//! `2j`; lanes 16..32 add nothing).

use cubecl::prelude::*;

use super::canonical::canonical;
use super::exact_product::{domain, head};
use super::grid::element_index;
use super::half_float::{bf16_factor, domain_bf16, packed_half, widen_bf16, widen_f16};
use super::reduce::{LANES, fold_sum, load_lanes};

/// Weight element types, as the kernels' compile-time `dtype`.
pub const DTYPE_BF16: u32 = 0;
pub const DTYPE_F16: u32 = 1;
pub const DTYPE_F32: u32 = 2;

/// Weight rows per cube: one 32-unit lane group per row.
pub const ROWS_PER_CUBE: u32 = 8;

/// `out[i] = bf16_factor(x[i])`: every activation rounded to bf16 once per product.
#[cube(launch)]
pub fn bf16_factors(x: &Array<f32>, out: &mut Array<f32>, n: u32) {
    let i = element_index();
    if i < n as usize {
        out[i] = bf16_factor(x[i]);
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

/// One chunk of weight rows against every activation row.
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
    let cube = CUBE_POS;
    let lane = UNIT_POS_X as usize;
    let y = UNIT_POS_Y as usize;
    let cols = cols as usize;
    let mut shared = SharedMemory::<f32>::new(LANES * ROWS_PER_CUBE as usize);
    // The whole cube takes this branch or none: the barrier below stays uniform.
    if cube < (row_groups * tokens) as usize {
        let token = cube / row_groups as usize;
        let row = (cube % row_groups as usize) * ROWS_PER_CUBE as usize + y;
        let mut acc = 0.0f32;
        if row < chunk_rows as usize {
            let x_base = token * cols;
            let w_base = row * cols;
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
        }
        shared[y * LANES + lane] = acc;
        sync_cube();
        if lane == 0 && row < chunk_rows as usize {
            let mut lanes = Array::<f32>::new(LANES);
            load_lanes(&shared, y * LANES, &mut lanes);
            out[token * total_rows as usize + row_offset as usize + row] =
                canonical(fold_sum(&mut lanes));
        }
    }
}
