//! Embedding gather, mirroring `fak_ops::embed_gather`: row `tokens[t]` of the table,
//! widened exactly (a quantized table's integer chunks give `QuantBlock::chunk`'s values,
//! DETERMINISM.md §3a) and made canonical.

use cubecl::prelude::*;

use super::canonical::canonical;
use super::grid::element_index;
use super::half_float::{packed_half, widen_bf16, widen_f16};
use super::matmul::{DTYPE_BF16, DTYPE_F16, DTYPE_F32, DTYPE_INT_CHUNKS_MIN};
use super::quantized::chunk_value;

/// Writes the output rows whose token lies in this chunk of the table (rows
/// `row_start .. row_start + chunk_rows`); the launches over all chunks write every row
/// once. Tokens were checked against the vocabulary on the host.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn embed(
    table: &Array<u32>,
    tokens: &Array<u32>,
    out: &mut Array<f32>,
    n_tokens: u32,
    dim: u32,
    row_start: u32,
    chunk_rows: u32,
    #[comptime] dtype: u32,
) {
    let i = element_index();
    let dim = dim as usize;
    if i < n_tokens as usize * dim {
        let token = tokens[i / dim];
        if token >= row_start && token - row_start < chunk_rows {
            let index = (token - row_start) as usize * dim + i % dim;
            let value = if comptime!(dtype == DTYPE_BF16) {
                widen_bf16(packed_half(table, index))
            } else if comptime!(dtype == DTYPE_F16) {
                widen_f16(packed_half(table, index))
            } else if comptime!(dtype == DTYPE_F32) {
                f32::reinterpret(table[index])
            } else {
                chunk_value(table, index, comptime!(dtype == DTYPE_INT_CHUNKS_MIN))
            };
            out[i] = canonical(value);
        }
    }
}
