//! The score lanes of one attention block in AVX-512: the 32 keys of the block are two
//! 16-lane registers, so lane `l` of every key's dot product advances with one broadcast
//! query element and two FMAs per head element in `l, l + 32, ...`.
//!
//! Safe code: the function carries `#[target_feature]` and is only called from the
//! multiversioned clone compiled for it; vectors move through `bytemuck` casts.

use std::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_setzero_ps,
};

use super::{ATTENTION_BLOCK, ScoreLanes};
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

#[inline(always)]
fn load(s: &[f32]) -> __m512 {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&s[..WIDTH]))
}

#[inline(always)]
fn store(lane: &mut [f32; ATTENTION_BLOCK], v: [__m512; 2]) {
    *lane = bytemuck::cast(v);
}
