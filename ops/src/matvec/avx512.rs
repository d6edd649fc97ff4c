//! The AVX-512 forms of the matmul kernels: each output's 32 lanes are two 16-lane
//! registers, and the halving tree runs in registers too (16 + 16, then 256-, 128-, 64- and
//! 32-bit halves: lane `j` takes lane `j + width` at every level, as in
//! [`crate::reduce::fold_sum`]).
//!
//! Safe code throughout: the functions carry `#[target_feature]` and are only called from
//! the multiversioned clones compiled for those features, and vectors are loaded and stored
//! through `bytemuck` casts of slices.

use std::arch::x86_64::{
    __m256i, __m512, _MM_HINT_T0, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehdup_ps,
    _mm_movehl_ps, _mm_prefetch, _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps,
    _mm512_add_ps, _mm512_castps512_ps256, _mm512_castsi512_ps, _mm512_cvtepu16_epi32,
    _mm512_extractf32x8_ps, _mm512_fmadd_ps, _mm512_setzero_ps, _mm512_slli_epi32,
};

use super::tiled::{TILE_ROWS, TILE_TOKENS};
use crate::canonical::canonical;
use crate::reduce::LANES;

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

/// Rows of bf16 weights already inside the factor domain (`rows x cols`, the bits of
/// [`crate::PreparedWeights`]) against one token's factors `x` (zero-padded to whole
/// chunks), into `out[r]`: [`ROWS_PER_PASS`] rows share each loaded activation chunk, and
/// their accumulators are independent chains the FMA units overlap.
#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
pub(super) fn rows_bf16(block: &[u16], cols: usize, x: &[f32], out: &mut [f32]) {
    let mut groups = block.chunks_exact(ROWS_PER_PASS * cols);
    let mut outs = out.chunks_exact_mut(ROWS_PER_PASS);
    for (group, o) in (&mut groups).zip(&mut outs) {
        rows_bf16_of::<ROWS_PER_PASS>(group, cols, x, o);
    }
    for (row, o) in groups
        .remainder()
        .chunks_exact(cols)
        .zip(outs.into_remainder().chunks_exact_mut(1))
    {
        rows_bf16_of::<1>(row, cols, x, o);
    }
}

/// Rows that [`rows_bf16`] advances together.
const ROWS_PER_PASS: usize = 4;
/// How far ahead of each row's current chunk [`rows_bf16`] prefetches, in bf16 elements
/// (8192 elements = 16 KiB: measured on the decode of a 0.5B model, 2048 gave 17.3 and
/// 8192 gave 18.0 tokens/s).
const PREFETCH_AHEAD: usize = 8192;

#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
fn rows_bf16_of<const R: usize>(rows: &[u16], cols: usize, x: &[f32], out: &mut [f32]) {
    let full = cols / LANES;
    let (xs, _) = x.as_chunks::<LANES>();
    let xs = &xs[..cols.div_ceil(LANES)];
    let mut acc = [[_mm512_setzero_ps(); HALVES]; R];
    for (c, xc) in xs[..full].iter().enumerate() {
        let xv = [load(&xc[..]), load(&xc[WIDTH..])];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let w = &rows[r * cols + c * LANES..][..LANES];
            // A decode step streams every weight from memory once: asking for the lines
            // ahead keeps more of them in flight than the hardware prefetcher does alone.
            // A hint past the end of the weights is harmless (a prefetch never faults).
            _mm_prefetch::<_MM_HINT_T0>(w.as_ptr().wrapping_add(PREFETCH_AHEAD).cast());
            accumulate_bf16(acc_r, w, xv);
        }
    }
    if let Some(xc) = xs.get(full) {
        // The last partial chunk, padded with +0.0 weights (and zero activations in `x`): a
        // padded column adds +0.0 to its lane, which leaves it unchanged.
        let xv = [load(&xc[..]), load(&xc[WIDTH..])];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let mut w = [0u16; LANES];
            let tail = &rows[r * cols + full * LANES..(r + 1) * cols];
            w[..tail.len()].copy_from_slice(tail);
            accumulate_bf16(acc_r, &w, xv);
        }
    }
    for (o, [low, high]) in out.iter_mut().zip(acc) {
        *o = canonical(fold(low, high));
    }
}

/// Widens 32 bf16 weights (`bits << 16`, exact) and adds their products with `x` to the
/// two registers of lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn accumulate_bf16(acc: &mut [__m512; HALVES], w: &[u16], x: [__m512; HALVES]) {
    for (h, (a, xv)) in acc.iter_mut().zip(x).enumerate() {
        let bits: __m256i =
            bytemuck::pod_read_unaligned(bytemuck::cast_slice(&w[h * WIDTH..][..WIDTH]));
        let wv = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(bits)));
        *a = _mm512_fmadd_ps(wv, xv, *a);
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
