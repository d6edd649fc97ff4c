//! The AVX-512 forms of the matmul kernels: each output's 32 lanes are two 16-lane
//! registers, and the halving tree runs in registers too (16 + 16, then 256-, 128-, 64- and
//! 32-bit halves: lane `j` takes lane `j + width` at every level, as in
//! [`crate::reduce::fold_sum`]).
//!
//! Weights that enter split (f32) are cut in registers like [`crate::split`]: head = the bits under the 12-bit mask, tail = value - head, two
//! products in the lane.
//!
//! Safe code throughout: the functions carry `#[target_feature]` and are only called from
//! the multiversioned clones compiled for those features, and vectors are loaded and stored
//! through `bytemuck` casts of slices.

use std::arch::x86_64::{
    __m512, __m512i, _MM_HINT_T0, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehdup_ps,
    _mm_movehl_ps, _mm_prefetch, _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps,
    _mm512_add_ps, _mm512_and_ps, _mm512_and_si512, _mm512_castps_si512, _mm512_castps512_ps256,
    _mm512_castsi512_ps, _mm512_cmpge_epu32_mask, _mm512_cmplt_epu32_mask, _mm512_extractf32x8_ps,
    _mm512_fmadd_ps, _mm512_mask_mov_epi32, _mm512_set1_epi32, _mm512_setzero_ps, _mm512_sub_ps,
};

use super::one_token::Rows;
use super::tiled::{TILE_ROWS, TILE_TOKENS};
use crate::canonical::{CANONICAL_NAN_BITS, canonical};
use crate::exact_product::{DOMAIN_MAX_BITS, DOMAIN_MIN_BITS, HEAD_MASK};
use crate::reduce::LANES;

/// f32 values per register.
const WIDTH: usize = 16;
/// Registers per output: its 32 lanes.
const HALVES: usize = LANES / WIDTH;
/// Panel values per chunk: [`TILE_ROWS`] rows of 32 lanes.
const PANEL_CHUNK: usize = TILE_ROWS * LANES;

/// `out[r * n + t]` for `n` (1 to [`TILE_TOKENS`]) tokens, from a panel of `factors` (1 or
/// 2) factors per weight.
#[target_feature(enable = "avx512f,avx512dq")]
pub(super) fn tile(
    panel: &[f32],
    x: &[f32],
    stride: usize,
    n: usize,
    factors: usize,
    out: &mut [f32],
) {
    match (n, factors) {
        (TILE_TOKENS, 1) => tile_of::<TILE_TOKENS, 1>(panel, x, stride, out),
        (2, 1) => tile_of::<2, 1>(panel, x, stride, out),
        (_, 1) => tile_of::<1, 1>(panel, x, stride, out),
        (TILE_TOKENS, _) => tile_of::<TILE_TOKENS, 2>(panel, x, stride, out),
        (2, _) => tile_of::<2, 2>(panel, x, stride, out),
        _ => tile_of::<1, 2>(panel, x, stride, out),
    }
}

/// The tile over a panel laid out `[chunk][factor][row][lane]`: each lane takes the
/// products of its weight's factors in order, chunk by chunk.
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn tile_of<const T: usize, const F: usize>(
    panel: &[f32],
    x: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    let (panel, _) = panel.as_chunks::<PANEL_CHUNK>();
    let (panel, _) = panel.as_chunks::<F>();
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
    for (c, factors) in panel.iter().enumerate() {
        for w in factors {
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
    }
    for (r, acc_r) in acc.iter().enumerate() {
        for (t, [low, high]) in acc_r.iter().enumerate() {
            out[r * T + t] = canonical(fold(*low, *high));
        }
    }
}

/// Rows of any stored form against one token's factors `x` (zero-padded to whole chunks),
/// into `out[r]`.
#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
pub(super) fn rows_one_token(w: Rows<'_>, cols: usize, x: &[f32], out: &mut [f32]) {
    match w {
        Rows::F32(w) => rows_split(cols, x, out, |r, c| f32_chunk(&w[r * cols..][..cols], c)),
    }
}

/// Chunk `c` of row `r` of `w` as f32 weight values inside the factor domain (columns past
/// `cols` +0.0), dispatching on the storage per call: for the panels, whose packing is
/// shared by many tokens.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
fn chunk_at(w: Rows<'_>, cols: usize, r: usize, c: usize) -> [__m512; HALVES] {
    match w {
        Rows::F32(w) => f32_chunk(&w[r * cols..][..cols], c),
    }
}

/// Rows `0..rows` of `w` into a tiled panel laid out `[chunk][factor][row][lane]`, each
/// weight split in registers (head, then tail); the panel's other rows hold +0.0. (A bf16
/// weight splits into itself and +0.0, the same bits as its one product.)
#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
pub(super) fn pack_split_panel(w: Rows<'_>, rows: usize, cols: usize, panel: &mut [f32]) {
    let head_mask = _mm512_castsi512_ps(splat(HEAD_MASK));
    panel.fill(0.0);
    for r in 0..rows {
        for c in 0..cols.div_ceil(LANES) {
            let values = chunk_at(w, cols, r, c);
            for (h, v) in values.into_iter().enumerate() {
                let head = _mm512_and_ps(v, head_mask);
                let tail = _mm512_sub_ps(v, head);
                let at = (2 * c * TILE_ROWS + r) * LANES + h * WIDTH;
                store(&mut panel[at..], head);
                store(&mut panel[at + TILE_ROWS * LANES..], tail);
            }
        }
    }
}

/// Rows that [`rows_split`] advances together: they share each loaded activation chunk,
/// and their accumulators are independent chains the FMA units overlap.
const ROWS_PER_PASS: usize = 4;
/// How far ahead of each block the one-token kernel prefetches: 16 KiB, as the bf16 pair
/// kernel does (a decode step streams every weight from memory once).
const PREFETCH_BYTES: usize = 16 << 10;

/// Rows whose weights enter split: `chunk(r, c)` gives chunk `c` of row `r` (0-based in
/// `out`) as f32 values inside the factor domain, the columns past `cols` +0.0. Grouped
/// [`ROWS_PER_PASS`] at a time.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
fn rows_split(
    cols: usize,
    x: &[f32],
    out: &mut [f32],
    chunk: impl Fn(usize, usize) -> [__m512; HALVES],
) {
    let mut first = 0;
    let mut outs = out.chunks_exact_mut(ROWS_PER_PASS);
    for o in &mut outs {
        rows_split_of::<ROWS_PER_PASS>(first, cols, x, o, &chunk);
        first += ROWS_PER_PASS;
    }
    for o in outs.into_remainder().chunks_exact_mut(1) {
        rows_split_of::<1>(first, cols, x, o, &chunk);
        first += 1;
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
fn rows_split_of<const R: usize>(
    first: usize,
    cols: usize,
    x: &[f32],
    out: &mut [f32],
    chunk: &impl Fn(usize, usize) -> [__m512; HALVES],
) {
    let (xs, _) = x.as_chunks::<LANES>();
    let xs = &xs[..cols.div_ceil(LANES)];
    let head_mask = _mm512_castsi512_ps(_mm512_set1_epi32(HEAD_MASK as i32));
    let mut acc = [[_mm512_setzero_ps(); HALVES]; R];
    for (c, xc) in xs.iter().enumerate() {
        let xv = [load(&xc[..]), load(&xc[WIDTH..])];
        // Decoded apart from the products: with a K-quant's decode inside it, LLVM kept the
        // row loop rolled and the accumulators in memory (a store and load on every FMA's
        // chain); this loop stays small enough to unroll.
        let mut ws = [[_mm512_setzero_ps(); HALVES]; R];
        for (r, w) in ws.iter_mut().enumerate() {
            *w = chunk(first + r, c);
        }
        for (acc_r, w) in acc.iter_mut().zip(ws) {
            for h in 0..HALVES {
                let head = _mm512_and_ps(w[h], head_mask);
                let tail = _mm512_sub_ps(w[h], head);
                acc_r[h] = _mm512_fmadd_ps(head, xv[h], acc_r[h]);
                acc_r[h] = _mm512_fmadd_ps(tail, xv[h], acc_r[h]);
            }
        }
    }
    for (o, [low, high]) in out.iter_mut().zip(acc) {
        *o = canonical(fold(low, high));
    }
}

/// Chunk `c` of an f32 row, through the factor domain; a last partial chunk padded with
/// +0.0.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512bw")]
fn f32_chunk(row: &[f32], c: usize) -> [__m512; HALVES] {
    let start = c * LANES;
    prefetch_block(&row[start]);
    let mut padded = [0.0f32; LANES];
    let values = match row.get(start..start + LANES) {
        Some(full) => full,
        None => {
            padded[..row.len() - start].copy_from_slice(&row[start..]);
            &padded
        }
    };
    [domain(load(values)), domain(load(&values[WIDTH..]))]
}

/// [`crate::domain`] on 16 values: magnitudes below 2^-40 become signed zero, from 2^64 up
/// (infinities and NaN included) the canonical NaN.
#[inline]
#[target_feature(enable = "avx512f")]
fn domain(v: __m512) -> __m512 {
    let bits = _mm512_castps_si512(v);
    let magnitude = _mm512_and_si512(bits, splat(0x7FFF_FFFF));
    let huge = _mm512_cmpge_epu32_mask(magnitude, splat(DOMAIN_MAX_BITS));
    let tiny = _mm512_cmplt_epu32_mask(magnitude, splat(DOMAIN_MIN_BITS));
    let signed_zero = _mm512_and_si512(bits, splat(0x8000_0000));
    let clamped = _mm512_mask_mov_epi32(bits, tiny, signed_zero);
    _mm512_castsi512_ps(_mm512_mask_mov_epi32(
        clamped,
        huge,
        splat(CANONICAL_NAN_BITS),
    ))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn splat(bits: u32) -> __m512i {
    _mm512_set1_epi32(bits as i32)
}

/// Asks for the bytes [`PREFETCH_BYTES`] ahead of `block` (a prefetch past the end of the
/// weights is harmless).
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn prefetch_block<B>(block: &B) {
    let ahead = (block as *const B)
        .cast::<u8>()
        .wrapping_add(PREFETCH_BYTES);
    _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
}

/// The halving tree over lanes `low` (0..16) and `high` (16..32).
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
pub(super) fn fold(low: __m512, high: __m512) -> f32 {
    let s16 = _mm512_add_ps(low, high);
    let s8 = _mm256_add_ps(
        _mm512_castps512_ps256(s16),
        _mm512_extractf32x8_ps::<1>(s16),
    );
    let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
    let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)))
}

/// Writes `v` to the 16 values at the start of `s`.
#[inline(always)]
fn store(s: &mut [f32], v: __m512) {
    s[..WIDTH].copy_from_slice(&bytemuck::cast::<__m512, [f32; WIDTH]>(v));
}

/// The 16 values at the start of `s` as one register.
#[inline(always)]
fn load(s: &[f32]) -> __m512 {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&s[..WIDTH]))
}
