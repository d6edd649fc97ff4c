//! One attention block in AVX-512. Scores: the 32 keys of the block are two 16-lane
//! registers, so lane `l` of every key's dot product advances with one broadcast query
//! element and two FMAs per head element in `l, l + 32, ...`. Value terms: an element's 32
//! lanes are the two registers of its row of the transposed value block, folded sixteen
//! elements at a time.
//!
//! Safe code: the function carries `#[target_feature]` and is only called from the
//! multiversioned clone compiled for it; vectors move through `bytemuck` casts.

use std::ops::Range;

use std::arch::x86_64::{
    __m256i, __m512, _mm512_add_ps, _mm512_and_si512, _mm512_castsi512_ps, _mm512_cmpge_epu32_mask,
    _mm512_cmplt_epu32_mask, _mm512_cvtepu16_epi32, _mm512_fmadd_ps, _mm512_mask_mov_epi32,
    _mm512_maskz_fmadd_ps, _mm512_set1_epi32, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_shuffle_f32x4, _mm512_shuffle_ps, _mm512_slli_epi32, _mm512_unpackhi_ps,
    _mm512_unpacklo_ps,
};

use half::bf16;

use super::{ATTENTION_BLOCK, ScoreLanes, WeightParts, fill_columns, value_term};
use crate::arith::Fused;
use crate::matvec::{FOLDED, fold_sixteen};
use crate::reduce::LANES;

/// f32 values per register.
const WIDTH: usize = 16;

/// For each head `h` of the group (`qf` holds their factors, head after head),
/// `lanes[h][l][j]`: lane `l` of key `j`'s canonical dot product with the head's factors
/// (elements `d = l, l + 32, ...` in increasing order, from +0.0), then the halving tree
/// over `l`, so `lanes[h][0][j]` is key `j`'s score. `key_block[d][j]` is element `d` of
/// key `j`.
///
/// Up to four heads go at once, each key register loaded once for all of them (the heads
/// of a group read the same keys; one at a time, the scores waited on those loads), and a
/// few lanes' chains of FMAs run side by side so none waits on the one before.
#[target_feature(enable = "avx512f")]
pub(super) fn scores(qf: &[f32], key_block: &[[f32; ATTENTION_BLOCK]], lanes: &mut [ScoreLanes]) {
    let heads_at_once = 4 * key_block.len();
    for (qf, lanes) in qf.chunks(heads_at_once).zip(lanes.chunks_mut(4)) {
        match lanes.len() {
            4 => head_scores::<4, 2>(qf, key_block, lanes),
            3 => head_scores::<3, 2>(qf, key_block, lanes),
            2 => head_scores::<2, 4>(qf, key_block, lanes),
            _ => head_scores::<1, 4>(qf, key_block, lanes),
        }
    }
}

/// [`scores`] of `H` heads, `G` lanes at a time.
#[inline]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
fn head_scores<const H: usize, const G: usize>(
    qf: &[f32],
    key_block: &[[f32; ATTENTION_BLOCK]],
    lanes: &mut [ScoreLanes],
) {
    let head_dim = key_block.len();
    for first in (0..LANES).step_by(G) {
        let mut acc = [[[_mm512_setzero_ps(); 2]; H]; G];
        // (Index loops: `skip(l).step_by(32)` ran as a call per element.)
        let mut d = first;
        while d < head_dim {
            for i in 0..G {
                // Only a head size that is not a multiple of 32 leaves a lane out.
                if d + i < head_dim {
                    let k = [
                        load(&key_block[d + i][..]),
                        load(&key_block[d + i][WIDTH..]),
                    ];
                    for h in 0..H {
                        let q = _mm512_set1_ps(qf[h * head_dim + d + i]);
                        acc[i][h][0] = _mm512_fmadd_ps(q, k[0], acc[i][h][0]);
                        acc[i][h][1] = _mm512_fmadd_ps(q, k[1], acc[i][h][1]);
                    }
                }
            }
            d += LANES;
        }
        for i in 0..G {
            for h in 0..H {
                store(&mut lanes[h][first + i], acc[i][h]);
            }
        }
    }
    for lanes in lanes.iter_mut() {
        let mut width = LANES / 2;
        while width > 0 {
            let (low, high) = lanes.split_at_mut(width);
            for (l, h) in low.iter_mut().zip(high.iter()) {
                let low_half = _mm512_add_ps(load(&l[..]), load(&h[..]));
                let high_half = _mm512_add_ps(load(&l[WIDTH..]), load(&h[WIDTH..]));
                store(l, [low_half, high_half]);
            }
            width /= 2;
        }
    }
}

/// [`super::value_terms`]: for every head and element `d`, lane `j` of row `d` of
/// `value_block` times the head's `p_j` (split: `head * v` onto +0.0, then `+ tail * v`,
/// both exact), lanes outside `visible` +0.0 by the FMAs' zero mask (never `0 * v`), the
/// first level of the tree (lane `j` plus lane `j + 16`) as one add of the row's two
/// registers, the rest by [`fold_sixteen`] for sixteen elements at once. Sixteen rows are
/// taken for every head before the next sixteen, so they are read from memory once for
/// the group. Elements past the last sixteen go one by one through the portable spelling.
#[target_feature(enable = "avx512f,fma")]
pub(super) fn value_terms(
    value_block: &[[f32; ATTENTION_BLOCK]],
    visible: Range<usize>,
    parts: &[WeightParts],
    values: &mut [f32],
) {
    let head_dim = value_block.len();
    let mask = visible.clone().fold(0u32, |m, j| m | 1 << j);
    let masks = [mask as u16, (mask >> WIDTH) as u16];
    let zero = _mm512_setzero_ps();
    let whole = head_dim - head_dim % FOLDED;
    for (c, rows) in value_block[..whole].chunks_exact(FOLDED).enumerate() {
        for (h, parts) in parts.iter().enumerate() {
            let [heads, tails] = parts;
            let head = [load(&heads[..]), load(&heads[WIDTH..])];
            let tail = [load(&tails[..]), load(&tails[WIDTH..])];
            let mut lanes = [zero; FOLDED];
            for (lane, row) in lanes.iter_mut().zip(rows) {
                let mut half = [zero; 2];
                for (k, half) in half.iter_mut().enumerate() {
                    let v = load(&row[k * WIDTH..]);
                    let t = _mm512_maskz_fmadd_ps(masks[k], head[k], v, zero);
                    *half = _mm512_maskz_fmadd_ps(masks[k], tail[k], v, t);
                }
                *lane = _mm512_add_ps(half[0], half[1]);
            }
            let sums: [f32; FOLDED] = bytemuck::cast(fold_sixteen(lanes));
            values[h * head_dim + c * FOLDED..][..FOLDED].copy_from_slice(&sums);
        }
    }
    for (values, parts) in values.chunks_exact_mut(head_dim).zip(parts) {
        for (o, column) in values[whole..].iter_mut().zip(&value_block[whole..]) {
            *o = value_term::<Fused>(column, visible.clone(), parts);
        }
    }
}

/// [`super::fill_block`] sixteen positions by sixteen elements at a time: each position's
/// sixteen elements widened to factors in one register, the sixteen registers transposed
/// in registers, each element's sixteen positions stored at once. Scattering the factors
/// one by one was most of a decode step's attention time once values were transposed too.
#[target_feature(enable = "avx512f")]
pub(super) fn fill_block<'a>(
    positions: usize,
    position: &dyn Fn(usize) -> &'a [bf16],
    block: &mut [[f32; ATTENTION_BLOCK]],
) {
    let whole = block.len() - block.len() % WIDTH;
    for first in (0..positions).step_by(WIDTH) {
        let n = WIDTH.min(positions - first);
        let rows: [&[bf16]; WIDTH] = std::array::from_fn(|i| position(first + i.min(n - 1)));
        for d in (0..whole).step_by(WIDTH) {
            let mut r = [_mm512_setzero_ps(); WIDTH];
            for (r, row) in r[..n].iter_mut().zip(&rows) {
                *r = factors(&row[d..d + WIDTH]);
            }
            for (e, column) in transpose(r).into_iter().enumerate() {
                let column: [f32; WIDTH] = bytemuck::cast(column);
                block[d + e][first..first + WIDTH].copy_from_slice(&column);
            }
        }
        fill_columns(first..first + n, position, block, whole..block.len());
    }
}

/// Sixteen bf16 values as their factors: [`super::cache_factor`] lane by lane.
#[inline]
#[target_feature(enable = "avx512f")]
fn factors(values: &[bf16]) -> __m512 {
    let bits: __m256i = bytemuck::pod_read_unaligned(bytemuck::cast_slice(&values[..WIDTH]));
    let bits = _mm512_cvtepu16_epi32(bits);
    let magnitude = _mm512_and_si512(bits, _mm512_set1_epi32(0x7FFF));
    let huge = _mm512_cmpge_epu32_mask(magnitude, _mm512_set1_epi32(0x5F80));
    let tiny = _mm512_cmplt_epu32_mask(magnitude, _mm512_set1_epi32(0x2B80));
    let sign = _mm512_and_si512(bits, _mm512_set1_epi32(0x8000));
    let bits = _mm512_mask_mov_epi32(bits, huge, _mm512_set1_epi32(0x7FC0));
    let bits = _mm512_mask_mov_epi32(bits, tiny, sign);
    _mm512_castsi512_ps(_mm512_slli_epi32::<16>(bits))
}

/// The transpose of a 16 x 16 matrix of f32, one row a register.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose(r: [__m512; WIDTH]) -> [__m512; WIDTH] {
    // Within each 128-bit lane: pairs of rows interleaved, then quads of rows gathered, so
    // register 4k + m holds, in 128-bit lane L, element 4L + m of rows 4k..4k + 4.
    let mut a = [_mm512_setzero_ps(); WIDTH];
    for k in 0..WIDTH / 2 {
        a[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        a[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    let mut b = [_mm512_setzero_ps(); WIDTH];
    for k in 0..WIDTH / 4 {
        b[4 * k] = _mm512_shuffle_ps::<0x44>(a[4 * k], a[4 * k + 2]);
        b[4 * k + 1] = _mm512_shuffle_ps::<0xEE>(a[4 * k], a[4 * k + 2]);
        b[4 * k + 2] = _mm512_shuffle_ps::<0x44>(a[4 * k + 1], a[4 * k + 3]);
        b[4 * k + 3] = _mm512_shuffle_ps::<0xEE>(a[4 * k + 1], a[4 * k + 3]);
    }
    // Element 4L + m is lane L of registers m, 4 + m, 8 + m, 12 + m, in that order.
    let mut c = [_mm512_setzero_ps(); WIDTH];
    for m in 0..4 {
        let even = [
            _mm512_shuffle_f32x4::<0x88>(b[m], b[4 + m]),
            _mm512_shuffle_f32x4::<0x88>(b[8 + m], b[12 + m]),
        ];
        let odd = [
            _mm512_shuffle_f32x4::<0xDD>(b[m], b[4 + m]),
            _mm512_shuffle_f32x4::<0xDD>(b[8 + m], b[12 + m]),
        ];
        c[m] = _mm512_shuffle_f32x4::<0x88>(even[0], even[1]);
        c[8 + m] = _mm512_shuffle_f32x4::<0xDD>(even[0], even[1]);
        c[4 + m] = _mm512_shuffle_f32x4::<0x88>(odd[0], odd[1]);
        c[12 + m] = _mm512_shuffle_f32x4::<0xDD>(odd[0], odd[1]);
    }
    c
}

#[inline(always)]
fn load(s: &[f32]) -> __m512 {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&s[..WIDTH]))
}

#[inline(always)]
fn store(lane: &mut [f32; ATTENTION_BLOCK], v: [__m512; 2]) {
    *lane = bytemuck::cast(v);
}
