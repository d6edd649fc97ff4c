//! Embedding lookup: the rows of a token table, widened to f32.

use crate::canonical::canonical;
use crate::error::{OpsError, check_len, check_nonzero, check_positions, shape_product};
use crate::half_float::{widen_bf16, widen_f16};
use crate::quantized::{QUANT_BLOCK, QuantBlock};
use crate::weights::{WeightData, WeightView};

/// Copies row `tokens[t]` of `table` (vocabulary x dim) into row `t` of `out`, widened
/// exactly to f32 and made [`canonical`] (denormals flushed, one NaN).
pub fn embed_gather(
    table: WeightView<'_>,
    tokens: &[u32],
    out: &mut [f32],
) -> Result<(), OpsError> {
    const OP: &str = "embed_gather";
    check_nonzero(OP, "tokens", tokens.len())?;
    let dim = table.cols();
    check_len(
        OP,
        "out",
        shape_product(OP, "out", &[tokens.len(), dim])?,
        out.len(),
    )?;
    check_positions(OP, "token", tokens, table.rows())?;
    for (&token, row_out) in tokens.iter().zip(out.chunks_exact_mut(dim)) {
        let start = token as usize * dim;
        match table.data() {
            WeightData::Bf16(d) => {
                widen_row(&d[start..start + dim], row_out, |w| widen_bf16(w.to_bits()))
            }
            WeightData::F16(d) => {
                widen_row(&d[start..start + dim], row_out, |w| widen_f16(w.to_bits()))
            }
            WeightData::F32(d) => widen_row(&d[start..start + dim], row_out, |w| w),
            WeightData::Q8_0(d) => gather_blocks(d, token as usize, dim, row_out),
            WeightData::Q5_0(d) => gather_blocks(d, token as usize, dim, row_out),
            WeightData::Q4K(d) => gather_blocks(d, token as usize, dim, row_out),
            WeightData::Q6K(d) => gather_blocks(d, token as usize, dim, row_out),
        }
    }
    Ok(())
}

fn widen_row<T: Copy>(row: &[T], out: &mut [f32], widen: impl Fn(T) -> f32) {
    for (o, &w) in out.iter_mut().zip(row) {
        *o = canonical(widen(w));
    }
}

/// Row `row` of a blocked table: each block's values, made canonical like any f32 weight.
fn gather_blocks<B: QuantBlock>(blocks: &[B], row: usize, dim: usize, out: &mut [f32]) {
    let per_row = dim / (QUANT_BLOCK * B::CHUNKS);
    let values = blocks[row * per_row..(row + 1) * per_row]
        .iter()
        .flat_map(|b| b.values());
    for (o, w) in out.iter_mut().zip(values) {
        *o = canonical(w);
    }
}
