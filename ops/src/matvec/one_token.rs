//! One token against f32 weights, which a decode step streams (prepared bf16 has its own
//! pair-lane kernel, [`super::pairs`]; quantized blocks theirs, [`super::blocks`]).
//!
//! A decode step reads every weight once, so its speed is memory bandwidth: the weights are
//! read straight from their stored bytes (no panel), a few
//! rows share each activation chunk, and rayon tasks are large enough that scheduling stays
//! out of the way. Same lanes, same order, same bits as the row-block kernel.

use multiversion::multiversion;
use multiversion::target::match_target;
use rayon::prelude::*;

use super::{WeightElement, fold_lanes, rows};
use crate::arith::Fused;
use crate::reduce::LANES;

/// Weight rows per rayon task: enough work per task that scheduling stays out of the way
/// of a 262144-row output projection.
const TASK_ROWS: usize = 256;

/// Weight slices as the SIMD kernels read them, by storage: what a decode step streams (the
/// one-token kernel takes each), and the split forms the tiled kernel's panels decode.
#[derive(Clone, Copy)]
pub(super) enum Rows<'a> {
    /// f32 weights, split per element.
    F32(&'a [f32]),
}

/// `out = W x` for `w` (`out.len()` rows of `cols`) and one token's factors `x`.
pub(super) fn matvec<W: WeightElement>(w: &[W], cols: usize, x: &[f32], out: &mut [f32]) {
    let mut padded = vec![0.0f32; cols.next_multiple_of(LANES)];
    padded[..cols].copy_from_slice(x);
    out.par_chunks_mut(TASK_ROWS)
        .zip(w.par_chunks(TASK_ROWS * cols))
        .for_each(|(o, block)| task(block, cols, &padded, o));
}

/// One task: the AVX-512 kernel where the CPU has it (and it has a form for the storage),
/// the row-block kernel otherwise.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512bw+avx512vl+avx2+fma+f16c"))]
fn task<W: WeightElement>(block: &[W], cols: usize, x: &[f32], out: &mut [f32]) {
    let plain = |out: &mut [f32]| {
        let mut lanes = vec![[0.0f32; LANES]; out.len()];
        rows::<Fused, W>(block, cols, &x[..cols], 1, &mut lanes);
        fold_lanes(&lanes, out);
    };
    match_target! {
        "x86_64+avx512f+avx512dq+avx512bw" => match W::stored_rows(block) {
            Some(stored) => super::avx512::rows_one_token(stored, cols, x, out),
            None => plain(out),
        },
        _ => plain(out),
    }
}

#[cfg(test)]
mod tests {
    use crate::arith::Unfused;

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
            let w: Vec<f32> = (0..rows * cols).map(|i| value(i, 0.37)).collect();
            let x: Vec<f32> = (0..cols).map(|i| value(i + 7, 0.91) * 3.0).collect();
            let view = crate::WeightView::f32(&w, rows, cols).unwrap();
            let mut fast = vec![0.0f32; rows];
            let mut plain = vec![0.0f32; rows];
            crate::matvec::matvec(view, &x, &mut fast).unwrap();
            crate::matvec::matvec_with::<Unfused>(view, &x, &mut plain).unwrap();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "{rows}x{cols}");
        }
    }
}
