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
//! Work is split into tasks of [`TASK_ROWS`] rows x as many tokens as fit
//! [`TASK_ACTIVATION_BYTES`]: each writes its own pieces of the token-major output in
//! place, and its activation rows stay in cache while it walks its weight rows. Each group
//! of [`TILE_ROWS`] weight rows is widened once per task into an f32 panel laid out chunk
//! by chunk, so the inner loop reads ready factors from one contiguous block. Weights that
//! enter split (f32) put both pieces in the panel,
//! head before tail, and each lane takes both products in that order.

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
/// Activation bytes one task keeps in cache while it walks its rows: the task's tokens are
/// as many as fit (at least one tile). Each task widens its weight rows into panels once,
/// so more tokens per task means less widening per product; 1 MiB stays inside a core's
/// 2 MiB L2 next to the panels.
const TASK_ACTIVATION_BYTES: usize = 1 << 20;
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
/// factors (`tokens x cols`, row-major).
pub(super) fn matmul_tiled<W: WeightElement>(
    w: &[W],
    cols: usize,
    x: &[f32],
    tokens: usize,
    out: &mut [f32],
) {
    debug_assert!(
        !W::PAIRED,
        "pair-lane weights take the pair kernel: this one fills lane i % 32"
    );
    let rows = w.len() / cols;
    let stride = cols.next_multiple_of(LANES);
    // Activations padded with +0.0 to whole chunks: a padded column adds 0 * 0 = +0.0 to its
    // lane, which leaves the lane unchanged (the same padding the plain kernel uses).
    let mut padded = vec![0.0f32; tokens * stride];
    for (p, row) in padded.chunks_exact_mut(stride).zip(x.chunks_exact(cols)) {
        p[..cols].copy_from_slice(row);
    }
    let task_tokens = (TASK_ACTIVATION_BYTES / (stride * size_of::<f32>()))
        .next_multiple_of(TILE_TOKENS)
        .max(TILE_TOKENS);
    tasks(out, rows, TASK_ROWS, task_tokens)
        .into_par_iter()
        .for_each(|mut t| {
            let block = &w[t.first_row * cols..][..t.outs[0].len() * cols];
            let x_block = &padded[t.first_token * stride..][..t.outs.len() * stride];
            task(block, cols, stride, x_block, &mut t.outs);
        });
}

/// One task of a many-token product: its rows start at `first_row`, its tokens at
/// `first_token`, and `outs` holds, per token, the piece of the token-major output that
/// covers the task's rows.
pub(super) struct Task<'o> {
    pub(super) first_row: usize,
    pub(super) first_token: usize,
    pub(super) outs: Vec<&'o mut [f32]>,
}

/// Splits the token-major `out` (`tokens x rows`) into tasks of `task_rows` rows x
/// `task_tokens` tokens (the last ones smaller), each writing its own pieces in place.
pub(super) fn tasks(
    out: &mut [f32],
    rows: usize,
    task_rows: usize,
    task_tokens: usize,
) -> Vec<Task<'_>> {
    let tokens = out.len() / rows;
    let row_blocks = rows.div_ceil(task_rows);
    let mut tasks: Vec<Task<'_>> = (0..row_blocks * tokens.div_ceil(task_tokens))
        .map(|i| Task {
            first_row: (i % row_blocks) * task_rows,
            first_token: (i / row_blocks) * task_tokens,
            outs: Vec::with_capacity(task_tokens.min(tokens)),
        })
        .collect();
    for (t, token_out) in out.chunks_exact_mut(rows).enumerate() {
        for (b, piece) in token_out.chunks_mut(task_rows).enumerate() {
            tasks[(t / task_tokens) * row_blocks + b].outs.push(piece);
        }
    }
    tasks
}

/// One task: the AVX-512 tile where the CPU has it, the portable tile (same bits, scalar
/// speed) in the other clones.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512bw+avx512vl+avx2+fma+f16c"))]
fn task<W: WeightElement>(
    block: &[W],
    cols: usize,
    stride: usize,
    x: &[f32],
    outs: &mut [&mut [f32]],
) {
    let factors = W::FACTORS;
    match_target! {
        "x86_64+avx512f+avx512dq+avx512bw" => rows_of_task(
            block, cols, stride, x, outs,
            // Split weights (f32) split in registers.
            |group, panel| match W::stored_rows(group) {
                Some(stored) if factors == 2 => {
                    let rows = group.len() / cols;
                    super::avx512::pack_split_panel(stored, rows, cols, panel)
                }
                _ => pack_panel(group, cols, panel),
            },
            |panel, x, n, out| super::avx512::tile(panel, x, stride, n, factors, out),
        ),
        _ => rows_of_task(
            block, cols, stride, x, outs,
            |group, panel| pack_panel(group, cols, panel),
            |panel, x, n, out| portable_tile(panel, x, stride, n, factors, out),
        ),
    }
}

/// Walks the task's rows [`TILE_ROWS`] at a time (a last partial group is padded with zero
/// rows whose outputs are dropped) and, for each, its tokens [`TILE_TOKENS`] at a time.
/// `pack(group, panel)` fills the panel of a row group (as [`pack_panel`] does);
/// `tile(panel, x, n, out)` sets `out[r * n + t]` for `n` tokens starting at `x`.
#[inline(always)]
fn rows_of_task<W: WeightElement>(
    block: &[W],
    cols: usize,
    stride: usize,
    x: &[f32],
    outs: &mut [&mut [f32]],
    pack: impl Fn(&[W], &mut [f32]),
    tile: impl Fn(&[f32], &[f32], usize, &mut [f32]),
) {
    let chunks = stride / LANES;
    let factors = W::FACTORS;
    let mut panel = vec![0.0f32; chunks * factors * TILE_ROWS * LANES];
    let mut folded = [0.0f32; TILE_ROWS * TILE_TOKENS];
    for (g, group) in block.chunks(TILE_ROWS * cols).enumerate() {
        let group_rows = group.len() / cols;
        pack(group, &mut panel);
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

/// Widens up to [`TILE_ROWS`] weight rows into `panel`, laid out
/// `[chunk][factor][row][lane]`; missing rows and the columns past `cols` hold +0.0.
#[inline(always)]
fn pack_panel<W: WeightElement>(group: &[W], cols: usize, panel: &mut [f32]) {
    let factors = W::FACTORS;
    panel.fill(0.0);
    for (r, row) in group.chunks_exact(cols).enumerate() {
        for (c, src) in row.chunks(LANES).enumerate() {
            // Factors gathered in fixed arrays first, then copied as whole lanes: a loop LLVM
            // vectorises (scattering each factor into the panel did not, and a short
            // prefill spent most of its time here).
            let mut pieces = [[0.0f32; LANES]; 2];
            for (j, w) in src.iter().enumerate() {
                [pieces[0][j], pieces[1][j]] = W::factors(w.factor());
            }
            for (f, p) in pieces[..factors].iter().enumerate() {
                panel[((c * factors + f) * TILE_ROWS + r) * LANES..][..LANES].copy_from_slice(p);
            }
        }
    }
}

/// The tile in plain Rust: lane `j` of output `(r, t)` takes `panel * x` chunk by chunk,
/// factor by factor, exactly as the AVX-512 form does.
fn portable_tile(
    panel: &[f32],
    x: &[f32],
    stride: usize,
    n: usize,
    factors: usize,
    out: &mut [f32],
) {
    let mut lanes = [[0.0f32; LANES]; TILE_ROWS * TILE_TOKENS];
    let lanes = &mut lanes[..TILE_ROWS * n];
    for (k, w) in panel.chunks_exact(TILE_ROWS * LANES).enumerate() {
        let c = k / factors;
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

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;
    use crate::arith::Unfused;
    use crate::half_float::bf16_factor;
    use crate::weights::WeightView;

    #[test]
    fn portable_tile_gives_the_row_block_bits() {
        // The non-AVX-512 form of the tile, over one ragged task (6 rows, 7 tokens, 40 cols),
        // on f16 weights: the one-factor type this kernel takes (bf16 rows fill pair lanes
        // and have their own kernel).
        let (rows, cols, tokens) = (6, 40, 7);
        let w: Vec<f16> = (0..rows * cols)
            .map(|i| f16::from_f32((i as f32 * 0.37).sin()))
            .collect();
        let x: Vec<f32> = (0..tokens * cols)
            .map(|i| (i as f32 * 0.91).cos() * 3.0)
            .collect();
        let mut expected = vec![0.0f32; tokens * rows];
        let view = WeightView::f16(&w, rows, cols).unwrap();
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
        rows_of_task(
            &w,
            cols,
            stride,
            &padded,
            &mut outs,
            |group, panel| pack_panel(group, cols, panel),
            |panel, x, n, out| portable_tile(panel, x, stride, n, 1, out),
        );
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&expected));
    }
}
