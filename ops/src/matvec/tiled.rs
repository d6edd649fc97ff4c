//! The many-token matmul: register tiles of [`TILE_ROWS`] weight rows x [`TILE_TOKENS`]
//! tokens.
//!
//! Every output keeps its own 32 lane accumulators, and each lane still takes its terms in
//! increasing column order; the tile only decides which outputs advance together. One
//! weight vector loaded into a register then feeds [`TILE_TOKENS`] outputs and one activation
//! vector [`TILE_ROWS`], so a prefill runs on the FMA units instead of on loads (the
//! single-row kernel loads a weight vector per product). The bits are those of the plain
//! kernel, output for output.
//!
//! Work is split into tasks of [`TASK_TOKENS`] tokens x [`TASK_ROWS`] rows: each writes its
//! own pieces of the token-major output in place, and its activation rows stay in cache
//! while it walks its weight rows. Each group of [`TILE_ROWS`] weight rows is widened once
//! per task into an f32 panel laid out chunk by chunk, so the inner loop reads ready
//! factors from one contiguous block.

use multiversion::multiversion;
use multiversion::target::match_target;
use rayon::prelude::*;

use super::{WeightElement, fold_lanes};
use crate::arith::{Fused, MulAdd};
use crate::reduce::LANES;

/// Weight rows of one register tile.
pub(super) const TILE_ROWS: usize = 4;
/// Tokens of one register tile: 4 rows x 3 tokens x 2 vectors of 16 lanes = 24 of the 32
/// AVX-512 registers hold accumulators, leaving room for the 4 weight and 1 activation
/// vectors in flight.
pub(super) const TILE_TOKENS: usize = 3;
/// Tokens of one task: their activations (64 x 4864 f32 = 1.2 MiB at the widest Qwen2.5
/// projection) stay in a core's L2 cache while the task walks its rows.
const TASK_TOKENS: usize = 64;
/// Weight rows of one task: a multiple of [`TILE_ROWS`], small enough that a projection of
/// a few hundred rows still gives both threads work.
const TASK_ROWS: usize = 128;

/// True where the tiled kernel has its SIMD form (x86-64 with AVX-512F/DQ and FMA); elsewhere
/// the row-block kernel is faster than the tiled one's portable form.
pub(super) fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `out[t * rows + r]` for every token `t` and row `r`, with `x` already rounded to bf16
/// factors (`tokens x cols`, row-major). Weights whose factor is one f32 (bf16, f16).
pub(super) fn matmul_tiled<W: WeightElement<Factor = f32>>(
    w: &[W],
    cols: usize,
    x: &[f32],
    tokens: usize,
    out: &mut [f32],
) {
    let rows = w.len() / cols;
    let stride = cols.next_multiple_of(LANES);
    // Activations padded with +0.0 to whole chunks: a padded column adds 0 * 0 = +0.0 to its
    // lane, which leaves the lane unchanged (the same padding the plain kernel uses).
    let mut padded = vec![0.0f32; tokens * stride];
    for (p, row) in padded.chunks_exact_mut(stride).zip(x.chunks_exact(cols)) {
        p[..cols].copy_from_slice(row);
    }
    let row_blocks = rows.div_ceil(TASK_ROWS);
    let token_blocks = tokens.div_ceil(TASK_TOKENS);
    let mut tasks: Vec<Vec<&mut [f32]>> = (0..row_blocks * token_blocks)
        .map(|_| Vec::with_capacity(TASK_TOKENS))
        .collect();
    for (t, token_out) in out.chunks_exact_mut(rows).enumerate() {
        for (b, piece) in token_out.chunks_mut(TASK_ROWS).enumerate() {
            tasks[(t / TASK_TOKENS) * row_blocks + b].push(piece);
        }
    }
    tasks.into_par_iter().enumerate().for_each(|(i, mut outs)| {
        let (token_block, row_block) = (i / row_blocks, i % row_blocks);
        let first_row = row_block * TASK_ROWS;
        let task_rows = outs[0].len();
        let block = &w[first_row * cols..(first_row + task_rows) * cols];
        let first_token = token_block * TASK_TOKENS;
        let x_block = &padded[first_token * stride..(first_token + outs.len()) * stride];
        task(block, cols, stride, x_block, &mut outs);
    });
}

/// One task: the AVX-512 tile where the CPU has it, the portable tile (same bits, scalar
/// speed) in the other clones.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512bw+avx512vl+avx2+fma+f16c"))]
fn task<W: WeightElement<Factor = f32>>(
    block: &[W],
    cols: usize,
    stride: usize,
    x: &[f32],
    outs: &mut [&mut [f32]],
) {
    match_target! {
        "x86_64+avx512f+avx512dq" => rows_of_task(block, cols, stride, x, outs, |panel, x, n, out| {
            avx512::tile(panel, x, stride, n, out)
        }),
        _ => rows_of_task(block, cols, stride, x, outs, |panel, x, n, out| {
            portable_tile(panel, x, stride, n, out)
        }),
    }
}

/// Walks the task's rows [`TILE_ROWS`] at a time (a last partial group is padded with zero
/// rows whose outputs are dropped) and, for each, its tokens [`TILE_TOKENS`] at a time.
/// `tile(panel, x, n, out)` sets `out[r * n + t]` for `n` tokens starting at `x`.
#[inline(always)]
fn rows_of_task<W: WeightElement<Factor = f32>>(
    block: &[W],
    cols: usize,
    stride: usize,
    x: &[f32],
    outs: &mut [&mut [f32]],
    tile: impl Fn(&[f32], &[f32], usize, &mut [f32]),
) {
    let chunks = stride / LANES;
    let mut panel = vec![0.0f32; chunks * TILE_ROWS * LANES];
    let mut folded = [0.0f32; TILE_ROWS * TILE_TOKENS];
    for (g, group) in block.chunks(TILE_ROWS * cols).enumerate() {
        let group_rows = group.len() / cols;
        pack_panel(group, cols, &mut panel);
        let mut t = 0;
        while t < outs.len() {
            let n = (outs.len() - t).min(TILE_TOKENS);
            tile(&panel, &x[t * stride..], n, &mut folded);
            for (k, out) in outs[t..t + n].iter_mut().enumerate() {
                for r in 0..group_rows {
                    out[g * TILE_ROWS + r] = folded[r * n + k];
                }
            }
            t += n;
        }
    }
}

/// Widens up to [`TILE_ROWS`] weight rows into `panel`, laid out `[chunk][row][lane]`;
/// missing rows and the columns past `cols` hold +0.0.
#[inline(always)]
fn pack_panel<W: WeightElement<Factor = f32>>(group: &[W], cols: usize, panel: &mut [f32]) {
    panel.fill(0.0);
    for (r, row) in group.chunks_exact(cols).enumerate() {
        for (c, src) in row.chunks(LANES).enumerate() {
            let dst = &mut panel[(c * TILE_ROWS + r) * LANES..][..src.len()];
            for (d, w) in dst.iter_mut().zip(src) {
                *d = w.factor();
            }
        }
    }
}

/// The tile in plain Rust: lane `j` of output `(r, t)` takes `panel * x` chunk by chunk,
/// exactly as the AVX-512 form does.
fn portable_tile(panel: &[f32], x: &[f32], stride: usize, n: usize, out: &mut [f32]) {
    let mut lanes = [[0.0f32; LANES]; TILE_ROWS * TILE_TOKENS];
    let lanes = &mut lanes[..TILE_ROWS * n];
    for (c, w) in panel.chunks_exact(TILE_ROWS * LANES).enumerate() {
        for t in 0..n {
            let xc = &x[t * stride + c * LANES..][..LANES];
            for r in 0..TILE_ROWS {
                let wr = &w[r * LANES..][..LANES];
                let acc = &mut lanes[r * n + t];
                for j in 0..LANES {
                    acc[j] = Fused::mul_add(wr[j], xc[j], acc[j]);
                }
            }
        }
    }
    fold_lanes(lanes, &mut out[..TILE_ROWS * n]);
}

/// The tile in AVX-512: each output's 32 lanes are two 16-lane registers, and the halving
/// tree runs in registers too (16 + 16, then 256-, 128-, 64- and 32-bit halves: lane `j`
/// takes lane `j + width` at every level, as in [`crate::reduce::fold_sum`]).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehdup_ps, _mm_movehl_ps,
        _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm512_add_ps,
        _mm512_castps512_ps256, _mm512_extractf32x8_ps, _mm512_fmadd_ps, _mm512_setzero_ps,
    };

    use super::{LANES, TILE_ROWS, TILE_TOKENS};
    use crate::canonical::canonical;

    /// f32 values per register.
    const WIDTH: usize = 16;
    /// Registers per output: its 32 lanes.
    const HALVES: usize = LANES / WIDTH;
    /// Panel values per chunk: [`TILE_ROWS`] rows of 32 lanes.
    const PANEL_CHUNK: usize = TILE_ROWS * LANES;

    /// `out[r * n + t]` for `n` (1 to [`TILE_TOKENS`]) tokens.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn tile(panel: &[f32], x: &[f32], stride: usize, n: usize, out: &mut [f32]) {
        match n {
            TILE_TOKENS => tile_of::<TILE_TOKENS>(panel, x, stride, out),
            2 => tile_of::<2>(panel, x, stride, out),
            _ => tile_of::<1>(panel, x, stride, out),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn tile_of<const T: usize>(panel: &[f32], x: &[f32], stride: usize, out: &mut [f32]) {
        let (panel, _) = panel.as_chunks::<PANEL_CHUNK>();
        let chunks = panel.len();
        // Each token's activations as whole chunks, sliced to exactly `chunks` so the loop
        // below needs no bounds checks.
        // (Plain loops, not `array::from_fn`: its closure would carry this function's target
        // features, so it could not be inlined into `from_fn` and ran as a call per chunk.)
        let mut xs: [&[[f32; LANES]]; T] = [&[]; T];
        for (t, xt) in xs.iter_mut().enumerate() {
            *xt = x[t * stride..][..chunks * LANES].as_chunks::<LANES>().0;
        }
        let mut acc = [[[_mm512_setzero_ps(); HALVES]; T]; TILE_ROWS];
        for (c, w) in panel.iter().enumerate() {
            for h in 0..HALVES {
                let mut wv = [_mm512_setzero_ps(); TILE_ROWS];
                for (r, v) in wv.iter_mut().enumerate() {
                    *v = load(&w[r * LANES + h * WIDTH..]);
                }
                for t in 0..T {
                    let xv = load(&xs[t][c][h * WIDTH..]);
                    for r in 0..TILE_ROWS {
                        acc[r][t][h] = _mm512_fmadd_ps(wv[r], xv, acc[r][t][h]);
                    }
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (t, [low, high]) in acc_r.iter().enumerate() {
                out[r * T + t] = canonical(fold(*low, *high));
            }
        }
    }

    /// The halving tree over lanes `low` (0..16) and `high` (16..32).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn fold(low: __m512, high: __m512) -> f32 {
        let s16 = _mm512_add_ps(low, high);
        let s8 = _mm256_add_ps(
            _mm512_castps512_ps256(s16),
            _mm512_extractf32x8_ps::<1>(s16),
        );
        let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
        let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)))
    }

    /// The 16 values at the start of `s` as one register.
    #[inline(always)]
    fn load(s: &[f32]) -> __m512 {
        bytemuck::pod_read_unaligned(bytemuck::cast_slice(&s[..WIDTH]))
    }
}

#[cfg(test)]
mod tests {
    use half::bf16;

    use super::*;
    use crate::arith::Unfused;
    use crate::half_float::bf16_factor;
    use crate::weights::WeightView;

    #[test]
    fn portable_tile_gives_the_row_block_bits() {
        // The non-AVX-512 form of the tile, over one ragged task (6 rows, 7 tokens, 40 cols).
        let (rows, cols, tokens) = (6, 40, 7);
        let w: Vec<bf16> = (0..rows * cols)
            .map(|i| bf16::from_f32((i as f32 * 0.37).sin()))
            .collect();
        let x: Vec<f32> = (0..tokens * cols)
            .map(|i| (i as f32 * 0.91).cos() * 3.0)
            .collect();
        let mut expected = vec![0.0f32; tokens * rows];
        let view = WeightView::bf16(&w, rows, cols).unwrap();
        crate::matvec::matmul_with::<Unfused>(view, &x, &mut expected).unwrap();

        let stride = cols.next_multiple_of(LANES);
        let mut padded = vec![0.0f32; tokens * stride];
        for (p, row) in padded.chunks_exact_mut(stride).zip(x.chunks_exact(cols)) {
            for (d, &v) in p.iter_mut().zip(row) {
                *d = bf16_factor(v);
            }
        }
        let mut got = vec![0.0f32; tokens * rows];
        let mut outs: Vec<&mut [f32]> = got.chunks_exact_mut(rows).collect();
        rows_of_task(&w, cols, stride, &padded, &mut outs, |panel, x, n, out| {
            portable_tile(panel, x, stride, n, out)
        });
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&expected));
    }
}
