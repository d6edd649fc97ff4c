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

use super::{ATTENTION_BLOCK, ScoreLanes, fill_columns, split_weights, value_term};
use crate::arith::Fused;
use crate::matvec::{FOLDED, fold_sixteen};
use crate::reduce::LANES;

/// f32 values per register.
const WIDTH: usize = 16;

/// `lanes[l][j]`: lane `l` of key `j`'s canonical dot product with `qf` (elements `d = l,
/// l + 32, ...` in increasing order, from +0.0), then the halving tree over `l`, so
/// `lanes[0][j]` is key `j`'s score. `key_block[d][j]` is element `d` of key `j`.
#[target_feature(enable = "avx512f")]
pub(super) fn scores(qf: &[f32], key_block: &[[f32; ATTENTION_BLOCK]], lanes: &mut ScoreLanes) {
    for (l, lane) in lanes.iter_mut().enumerate() {
        let mut acc = [_mm512_setzero_ps(); 2];
        // (An index loop: `skip(l).step_by(32)` ran as a call per element.)
        let mut d = l;
        while d < qf.len() {
            let q = _mm512_set1_ps(qf[d]);
            for (h, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(q, load(&key_block[d][h * WIDTH..]), *a);
            }
            d += LANES;
        }
        store(lane, acc);
    }
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

/// [`super::value_terms`]: for every element `d`, lane `j` of row `d` of `value_block` times
/// `p_j` (split: `head * v` onto +0.0, then `+ tail * v`, both exact), lanes outside
/// `visible` +0.0 by the FMAs' zero mask (never `0 * v`), the first level of the tree (lane
/// `j` plus lane `j + 16`) as one add of the row's two registers, the rest by
/// [`fold_sixteen`] for sixteen elements at once. Elements past the last sixteen go one by
/// one through the portable spelling.
#[target_feature(enable = "avx512f,fma")]
pub(super) fn value_terms(
    value_block: &[[f32; ATTENTION_BLOCK]],
    visible: Range<usize>,
    weights: &[f32; LANES],
    values: &mut [f32],
) {
    let parts = split_weights(weights);
    let (mut heads, mut tails) = ([0.0f32; LANES], [0.0f32; LANES]);
    for ((h, t), &(head, tail)) in heads.iter_mut().zip(&mut tails).zip(&parts) {
        (*h, *t) = (head, tail);
    }
    let mask = visible.clone().fold(0u32, |m, j| m | 1 << j);
    let masks = [mask as u16, (mask >> WIDTH) as u16];
    let zero = _mm512_setzero_ps();
    let head = [load(&heads[..]), load(&heads[WIDTH..])];
    let tail = [load(&tails[..]), load(&tails[WIDTH..])];
    let whole = values.len() - values.len() % FOLDED;
    for (out, rows) in values[..whole]
        .chunks_exact_mut(FOLDED)
        .zip(value_block.chunks_exact(FOLDED))
    {
        let mut lanes = [zero; FOLDED];
        for (lane, row) in lanes.iter_mut().zip(rows) {
            let mut half = [zero; 2];
            for (h, half) in half.iter_mut().enumerate() {
                let v = load(&row[h * WIDTH..]);
                let t = _mm512_maskz_fmadd_ps(masks[h], head[h], v, zero);
                *half = _mm512_maskz_fmadd_ps(masks[h], tail[h], v, t);
            }
            *lane = _mm512_add_ps(half[0], half[1]);
        }
        out.copy_from_slice(&bytemuck::cast::<__m512, [f32; FOLDED]>(fold_sixteen(
            lanes,
        )));
    }
    for (o, column) in values[whole..].iter_mut().zip(&value_block[whole..]) {
        *o = value_term::<Fused>(column, visible.clone(), &parts);
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
