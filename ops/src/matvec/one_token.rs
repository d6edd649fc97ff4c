//! One token against prepared bf16 weights: a decode step's matvec.
//!
//! A decode step reads every weight once, so its speed is memory bandwidth: the weights are
//! read straight from their bf16 bytes (no panel), a few rows share each activation chunk,
//! and rayon tasks are large enough that scheduling stays out of the way. Same lanes, same
//! order, same bits as the row-block kernel.

use multiversion::multiversion;
use multiversion::target::match_target;
use rayon::prelude::*;

use super::{PreparedBf16, fold_lanes, rows};
use crate::arith::Fused;
use crate::reduce::LANES;

/// Weight rows per rayon task: 64 rows of 896 bf16 are 112 KiB of weights, so even the
/// 128-row K/V projections give both threads a task, and the 151936-row LM head runs in
/// 2374 tasks instead of tens of thousands.
const TASK_ROWS: usize = 256;

/// `out = W x` for prepared bf16 `w` (`out.len() x cols`) and one token's factors `x`.
pub(super) fn matvec_prepared(w: &[PreparedBf16], cols: usize, x: &[f32], out: &mut [f32]) {
    let mut padded = vec![0.0f32; cols.next_multiple_of(LANES)];
    padded[..cols].copy_from_slice(x);
    let bits: &[u16] = bytemuck::cast_slice(w);
    out.par_chunks_mut(TASK_ROWS)
        .zip(bits.par_chunks(TASK_ROWS * cols))
        .for_each(|(o, block)| task(block, cols, &padded, o));
}

/// One task: the AVX-512 kernel where the CPU has it, the row-block kernel otherwise.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512bw+avx512vl+avx2+fma+f16c"))]
fn task(block: &[u16], cols: usize, x: &[f32], out: &mut [f32]) {
    match_target! {
        "x86_64+avx512f+avx512dq+avx512bw" => super::avx512::rows_bf16(block, cols, x, out),
        _ => {
            let block: &[PreparedBf16] = bytemuck::cast_slice(block);
            let mut lanes = vec![[0.0f32; LANES]; out.len()];
            rows::<Fused, PreparedBf16>(block, cols, &x[..cols], 1, &mut lanes);
            fold_lanes(&lanes, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use half::bf16;

    use crate::arith::Unfused;
    use crate::weights::PreparedWeights;

    #[test]
    fn one_token_kernel_gives_the_row_block_bits_on_ragged_shapes() {
        // Rows crossing a task and not a multiple of the 4-row pass; cols below, at and past
        // whole chunks.
        // The last shape takes arbitrary bit patterns: NaN, infinities, denormals and
        // out-of-domain magnitudes in weights and activations.
        let shapes = [(131, 45), (3, 7), (70, 64), (5, 96), (66, 33), (9, 40)];
        for (case, (rows, cols)) in shapes.into_iter().enumerate() {
            let value = |i: usize, scale: f32| {
                if case == shapes.len() - 1 {
                    f32::from_bits((i as u32).wrapping_mul(0x9E37_79B9))
                } else {
                    (i as f32 * scale).sin()
                }
            };
            let w: Vec<bf16> = (0..rows * cols)
                .map(|i| bf16::from_f32(value(i, 0.37)))
                .collect();
            let x: Vec<f32> = (0..cols).map(|i| value(i + 7, 0.91) * 3.0).collect();
            let prepared = PreparedWeights::bf16(w, rows, cols).unwrap();
            let mut fast = vec![0.0f32; rows];
            let mut plain = vec![0.0f32; rows];
            crate::matvec::matvec(prepared.view(), &x, &mut fast).unwrap();
            crate::matvec::matvec_with::<Unfused>(prepared.view(), &x, &mut plain).unwrap();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "{rows}x{cols}");
        }
    }
}
