//! Prepared bf16 weights against activations in pair lanes (DETERMINISM.md §1, §6): lane
//! `j` of an output takes, chunk by chunk, the exact product of column `32c + 2j + 1` and
//! then that of column `32c + 2j`, so one 16-lane register holds an output and a chunk of 32
//! bf16 weights is one load. The 32 bits of a weight pair widen to its odd element by
//! masking and to its even one by shifting, and each lane takes two FMAs, odd first: the
//! order AVX512-BF16's `vdpbf16ps` computes, which on this project's benchmark CPU has half
//! the product throughput of these FMAs.
//!
//! Prefill (many tokens) and decode (one token) both run here. Weights are read straight
//! from their rows, no panel; activations are rounded to factors once and laid out in pair
//! order (odd columns, then even, chunk by chunk), padded with +0.0 to whole chunks. Tiles
//! of [`TILE_ROWS`] x [`TILE_TOKENS`] outputs fold their lanes sixteen outputs at a time.

use std::arch::x86_64::{
    __m512, __m512i, _MM_HINT_T0, _mm_prefetch, _mm512_add_ps, _mm512_and_si512,
    _mm512_castsi512_ps, _mm512_fmadd_ps, _mm512_permutexvar_ps, _mm512_set1_epi32,
    _mm512_setzero_ps, _mm512_setzero_si512, _mm512_shuffle_f32x4, _mm512_shuffle_ps,
    _mm512_slli_epi32,
};

use multiversion::multiversion;
use multiversion::target::match_target;
use rayon::prelude::*;

use super::tiled::tasks;
use crate::canonical::canonical_lanes;
use crate::half_float::bf16_factor;
use crate::reduce::LANES;

/// f32 values per register: the 16 pair lanes.
const WIDTH: usize = LANES / 2;
/// Weight rows of one register tile.
const TILE_ROWS: usize = 4;
/// Tokens of one register tile: 4 rows x 5 tokens = 20 of the 32 AVX-512 registers hold
/// an output's 16 lanes each, 8 more the rows' odd and even weights, 2 an activation's.
/// (Measured on the whole 512-token prefill of the 0.5B model: 4 and 5 tokens about equal,
/// 6 slower by 5%, although 6 won on the MLP shapes alone.)
const TILE_TOKENS: usize = 5;
/// Weight rows of one prefill task: a multiple of [`TILE_ROWS`], small enough that a
/// projection of a few hundred rows still gives both threads work.
const TASK_ROWS: usize = 128;
/// Activation bytes one prefill task keeps in cache while it walks its rows (half a
/// core's L2, next to the weight rows it streams).
const TASK_ACTIVATION_BYTES: usize = 1 << 20;
/// Weight rows of one decode task: 256 rows of 896 bf16 are 448 KiB, so even the 128-row
/// K/V projections of a 0.5B model give both threads a task, and its 151936-row LM head
/// runs in 594 tasks.
const DECODE_TASK_ROWS: usize = 256;
/// How far ahead of each row's current chunk the decode kernel prefetches: a decode step
/// streams every weight from memory once, and asking for the lines ahead keeps more of them
/// in flight than the hardware prefetcher does alone (measured on a 0.5B bf16 model with
/// the f32-lane kernel this one replaced: 4 KiB gave 17.3 and 16 KiB 18.0 tokens/s).
const PREFETCH_AHEAD: usize = (16 << 10) / size_of::<u16>();

/// True where this kernel runs (x86-64 with AVX-512F); elsewhere the row-block kernel
/// computes the same order.
pub(super) fn supported() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// `out[t * rows + r]` for bf16 weight bits already inside the factor domain (`rows x
/// cols`) and `tokens` rows of activation factors `x` (`tokens x cols`).
pub(super) fn matmul(w: &[u16], cols: usize, x: &[f32], tokens: usize, out: &mut [f32]) {
    let rows = w.len() / cols;
    let stride = cols.next_multiple_of(LANES);
    let xp = pair_ordered(x, cols, stride);
    if tokens == 1 {
        out.par_chunks_mut(DECODE_TASK_ROWS)
            .zip(w.par_chunks(DECODE_TASK_ROWS * cols))
            .for_each(|(o, block)| task(block, cols, &xp, stride, &mut [o]));
        return;
    }
    let task_tokens = (TASK_ACTIVATION_BYTES / (stride * size_of::<f32>())).max(TILE_TOKENS);
    tasks(out, rows, TASK_ROWS, task_tokens)
        .into_par_iter()
        .for_each(|mut t| {
            let block = &w[t.first_row * cols..][..t.outs[0].len() * cols];
            let x_block = &xp[t.first_token * stride..][..t.outs.len() * stride];
            task(block, cols, x_block, stride, &mut t.outs);
        });
}

/// Each token's activations rounded to factors (`bf16_factor`) and rearranged chunk by
/// chunk as the lanes read them: the 16 odd columns `2j + 1`, then the 16 even ones `2j`;
/// columns past `cols` +0.0 (a +0.0 factor against a +0.0 weight adds +0.0, which leaves a
/// lane unchanged).
fn pair_ordered(x: &[f32], cols: usize, stride: usize) -> Vec<f32> {
    let mut xp = vec![0.0f32; x.len() / cols * stride];
    xp.par_chunks_mut(stride)
        .zip(x.par_chunks(cols))
        .for_each(|(p, row)| pair_ordered_row(row, p));
    xp
}

/// One token of [`pair_ordered`], compiled for each SIMD level: the chunk is rounded into a
/// contiguous array first (a loop that vectorises), then permuted.
#[multiversion(targets("x86_64+avx512f+avx512bw", "x86_64+avx2"))]
fn pair_ordered_row(row: &[f32], p: &mut [f32]) {
    let (chunks, rest) = row.as_chunks::<LANES>();
    for (d, c) in p.as_chunks_mut::<LANES>().0.iter_mut().zip(chunks) {
        let mut f = [0.0f32; LANES];
        for (o, &v) in f.iter_mut().zip(c) {
            *o = bf16_factor(v);
        }
        for j in 0..WIDTH {
            d[j] = f[2 * j + 1];
            d[WIDTH + j] = f[2 * j];
        }
    }
    let last = &mut p[chunks.len() * LANES..];
    for (i, &v) in rest.iter().enumerate() {
        last[(1 - i % 2) * WIDTH + i / 2] = bf16_factor(v);
    }
}

/// One task: `outs[t][r]` for the rows of `w` and the tokens of `x`.
#[multiversion(targets("x86_64+avx512f"))]
fn task(w: &[u16], cols: usize, x: &[f32], stride: usize, outs: &mut [&mut [f32]]) {
    match_target! {
        "x86_64+avx512f" => tiles(w, cols, x, stride, outs, |w, x, r, t, out| {
            tile_of_size(w, cols, x, stride, r, t, out)
        }),
        _ => {
            // The clone without AVX-512, never called: `supported()` gates every call.
            let _ = (w, cols, x, stride, outs);
            unreachable!("the pair kernel needs AVX-512F")
        }
    }
}

/// Walks the task's tokens [`TILE_TOKENS`] at a time and, for each group, its rows
/// [`TILE_ROWS`] at a time (the last ones one at a time): a group's activations stay in
/// cache while the weight rows stream past. `tile(w, x, r, t, out)` sets `out[i * t + k]`
/// for `r` rows starting at `w` and `t` tokens starting at `x`.
#[inline(always)]
fn tiles(
    w: &[u16],
    cols: usize,
    x: &[f32],
    stride: usize,
    outs: &mut [&mut [f32]],
    tile: impl Fn(&[u16], &[f32], usize, usize, &mut [f32]),
) {
    let rows = w.len() / cols;
    let mut folded = [0.0f32; TILE_ROWS * TILE_TOKENS];
    let mut t = 0;
    while t < outs.len() {
        let n = (outs.len() - t).min(TILE_TOKENS);
        let mut first = 0;
        while first < rows {
            let r = if rows - first >= TILE_ROWS {
                TILE_ROWS
            } else {
                1
            };
            tile(&w[first * cols..], &x[t * stride..], r, n, &mut folded);
            for (k, out) in outs[t..t + n].iter_mut().enumerate() {
                for i in 0..r {
                    out[first + i] = folded[i * n + k];
                }
            }
            first += r;
        }
        t += n;
    }
}

/// The tile instantiated for `r` rows (1 or [`TILE_ROWS`]) and `t` tokens (1 to
/// [`TILE_TOKENS`]); a single token prefetches its weights, which come from memory once.
#[inline]
#[target_feature(enable = "avx512f")]
fn tile_of_size(
    w: &[u16],
    cols: usize,
    x: &[f32],
    stride: usize,
    r: usize,
    t: usize,
    out: &mut [f32],
) {
    match (r == TILE_ROWS, t) {
        (true, 1) => tile::<TILE_ROWS, 1, true>(w, cols, x, stride, out),
        (true, 2) => tile::<TILE_ROWS, 2, false>(w, cols, x, stride, out),
        (true, 3) => tile::<TILE_ROWS, 3, false>(w, cols, x, stride, out),
        (true, 4) => tile::<TILE_ROWS, 4, false>(w, cols, x, stride, out),
        (true, _) => tile::<TILE_ROWS, TILE_TOKENS, false>(w, cols, x, stride, out),
        (false, 1) => tile::<1, 1, true>(w, cols, x, stride, out),
        (false, 2) => tile::<1, 2, false>(w, cols, x, stride, out),
        (false, 3) => tile::<1, 3, false>(w, cols, x, stride, out),
        (false, 4) => tile::<1, 4, false>(w, cols, x, stride, out),
        (false, _) => tile::<1, TILE_TOKENS, false>(w, cols, x, stride, out),
    }
}

/// The tile of `R` rows x `T` tokens: chunk by chunk (the last partial one with its
/// weights padded by +0.0), each row's 32 bf16 widened in registers into odd and even
/// factors, and each lane's two products added odd first.
#[inline]
#[target_feature(enable = "avx512f")]
fn tile<const R: usize, const T: usize, const PREFETCH: bool>(
    w: &[u16],
    cols: usize,
    x: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    let full = cols / LANES;
    // Each row's and token's whole chunks, sliced to exactly `full` so the loop needs no
    // bounds checks.
    let mut wr: [&[[u16; LANES]]; R] = [&[]; R];
    for (r, v) in wr.iter_mut().enumerate() {
        *v = &w[r * cols..][..full * LANES].as_chunks::<LANES>().0[..full];
    }
    let mut xs: [&[[f32; LANES]]; T] = [&[]; T];
    for (t, v) in xs.iter_mut().enumerate() {
        *v = &x[t * stride..][..full * LANES].as_chunks::<LANES>().0[..full];
    }
    let mut acc = [[_mm512_setzero_ps(); T]; R];
    for c in 0..full {
        let mut bits = [_mm512_setzero_si512(); R];
        for (r, b) in bits.iter_mut().enumerate() {
            if PREFETCH {
                // A hint past the end of the weights is harmless (a prefetch never faults).
                let ahead = wr[r][c].as_ptr().wrapping_add(PREFETCH_AHEAD);
                _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
            }
            *b = load_bits(&wr[r][c]);
        }
        // (Plain loops, not `array::from_fn` or `map`: their closures carry this function's
        // target features, so they could not be inlined into the std functions.)
        let mut xc = [&xs[0][c]; T];
        for (t, v) in xc.iter_mut().enumerate() {
            *v = &xs[t][c];
        }
        accumulate(&mut acc, bits, xc);
    }
    if full * LANES < cols {
        let mut bits = [_mm512_setzero_si512(); R];
        for (r, b) in bits.iter_mut().enumerate() {
            let mut padded = [0u16; LANES];
            padded[..cols - full * LANES]
                .copy_from_slice(&w[r * cols + full * LANES..][..cols - full * LANES]);
            *b = load_bits(&padded);
        }
        // The activations are padded to whole chunks: chunk `full` exists for every token.
        let chunk = |t: usize| &x[t * stride + full * LANES..].as_chunks::<LANES>().0[0];
        let mut xc = [chunk(0); T];
        for (t, v) in xc.iter_mut().enumerate() {
            *v = chunk(t);
        }
        accumulate(&mut acc, bits, xc);
    }
    // Outputs `r * T + t`, folded sixteen at a time (a last group padded with zeros).
    let mut all = [_mm512_setzero_ps(); 2 * FOLDED];
    for (r, acc_r) in acc.iter().enumerate() {
        all[r * T..][..T].copy_from_slice(acc_r);
    }
    let groups = all
        .as_chunks::<FOLDED>()
        .0
        .iter()
        .take((R * T).div_ceil(FOLDED));
    for (g, group) in groups.enumerate() {
        let sums: [f32; FOLDED] = bytemuck::cast(canonical_lanes(fold_sixteen(*group)));
        let o = &mut out[g * FOLDED..R * T];
        let n = o.len().min(FOLDED);
        o[..n].copy_from_slice(&sums[..n]);
    }
}

/// Outputs [`fold_sixteen`] folds at once.
pub(crate) const FOLDED: usize = 16;

/// The canonical tree (DETERMINISM.md §1) of sixteen outputs' pair lanes at once: element
/// `r` of the result is output `r`'s sum. The pair lanes are lanes 0..16 of the
/// canonical 32 and lanes 16..32 hold +0.0, so the tree's first level (lane `j` plus lane
/// `j + 16`) leaves every lane as it is (a lane is never -0.0) and is skipped. Each later
/// level is one add per register of two shuffles that line up lane `j` and lane `j + w` of
/// several outputs: 15 adds and 30 shuffles instead of a horizontal fold per output, and
/// one permutation at the end puts the sums in order.
/// Attention's value terms use it too, after adding their first level themselves.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn fold_sixteen(a: [__m512; FOLDED]) -> __m512 {
    // w = 8: [A 0..8 | B 0..8] + [A 8..16 | B 8..16], outputs (2i, 2i + 1).
    let mut s = [_mm512_setzero_ps(); 8];
    for (i, v) in s.iter_mut().enumerate() {
        let (x, y) = (a[2 * i], a[2 * i + 1]);
        *v = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(x, y),
            _mm512_shuffle_f32x4::<0xEE>(x, y),
        );
    }
    // w = 4: quads [A 0..4, B 0..4, C 0..4, D 0..4] + [A 4..8, ...]: quad k is output 4i + k.
    let mut u = [_mm512_setzero_ps(); 4];
    for (i, v) in u.iter_mut().enumerate() {
        let (x, y) = (s[2 * i], s[2 * i + 1]);
        *v = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(x, y),
            _mm512_shuffle_f32x4::<0xDD>(x, y),
        );
    }
    // w = 2, within each quad: [x0, x1, y0, y1] + [x2, x3, y2, y3].
    let mut v = [_mm512_setzero_ps(); 2];
    for (i, o) in v.iter_mut().enumerate() {
        let (x, y) = (u[2 * i], u[2 * i + 1]);
        *o = _mm512_add_ps(
            _mm512_shuffle_ps::<0x44>(x, y),
            _mm512_shuffle_ps::<0xEE>(x, y),
        );
    }
    // w = 1: [x0, x2, y0, y2] + [x1, x3, y1, y3].
    let w = _mm512_add_ps(
        _mm512_shuffle_ps::<0x88>(v[0], v[1]),
        _mm512_shuffle_ps::<0xDD>(v[0], v[1]),
    );
    // Element 4k + m of `w` is output 4m + k.
    _mm512_permutexvar_ps(bytemuck::cast(FOLD_ORDER), w)
}

/// The element of the folded register that holds output `r`: `4 (r % 4) + r / 4`.
const FOLD_ORDER: [i32; FOLDED] = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];

/// Adds one chunk to the tile: each row's 32 bf16 `bits` widened into odd and even factors,
/// each token's activations `x` in pair order (odd columns, then even), and each lane's two
/// products added odd first.
#[inline]
#[target_feature(enable = "avx512f")]
fn accumulate<const R: usize, const T: usize>(
    acc: &mut [[__m512; T]; R],
    bits: [__m512i; R],
    x: [&[f32; LANES]; T],
) {
    let high = _mm512_set1_epi32(0xFFFF_0000_u32 as i32);
    let mut odd = [_mm512_setzero_ps(); R];
    let mut even = [_mm512_setzero_ps(); R];
    for r in 0..R {
        odd[r] = _mm512_castsi512_ps(_mm512_and_si512(bits[r], high));
        even[r] = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(bits[r]));
    }
    for (t, xt) in x.iter().enumerate() {
        let (xo, xe) = (load(&xt[..WIDTH]), load(&xt[WIDTH..]));
        for r in 0..R {
            acc[r][t] = _mm512_fmadd_ps(even[r], xe, _mm512_fmadd_ps(odd[r], xo, acc[r][t]));
        }
    }
}

/// The 32 bf16 at the start of `s` as one register.
#[inline(always)]
fn load_bits(s: &[u16]) -> __m512i {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&s[..LANES]))
}

/// The 16 values at the start of `s` as one register.
#[inline(always)]
fn load(s: &[f32]) -> __m512 {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&s[..WIDTH]))
}

#[cfg(test)]
mod tests {
    use half::bf16;

    use crate::arith::Fused;
    use crate::weights::PreparedWeights;

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|f| f.to_bits()).collect()
    }

    #[test]
    fn pair_kernel_gives_the_row_block_bits_on_ragged_shapes() {
        // Rows crossing a tile and a task; cols below, at and past whole chunks; token
        // counts leaving every tile width from 1 to 5; the last shape takes arbitrary bit patterns
        // (NaN, infinities, denormals, out-of-domain magnitudes).
        let shapes = [
            (131, 45, 1),
            (3, 7, 2),
            (70, 64, 8),
            (5, 96, 9),
            (133, 33, 11),
            (9, 40, 5),
        ];
        for (case, (rows, cols, tokens)) in shapes.into_iter().enumerate() {
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
            let x: Vec<f32> = (0..tokens * cols)
                .map(|i| value(i + 7, 0.91) * 3.0)
                .collect();
            let prepared = PreparedWeights::bf16(w, rows, cols).unwrap();
            let mut plain = vec![0.0f32; tokens * rows];
            crate::matvec::matmul_with::<Fused>(prepared.view(), &x, &mut plain).unwrap();
            let mut fast = vec![0.0f32; tokens * rows];
            crate::matvec::matmul(prepared.view(), &x, &mut fast).unwrap();
            assert_eq!(bits(&fast), bits(&plain), "{rows}x{cols}, {tokens} tokens");
        }
    }
}
