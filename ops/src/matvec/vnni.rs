//! The AVX-512 VNNI form of the quantized product ([`super::blocks`], DETERMINISM.md §3b).
//!
//! Chunks go 16 at a time, one per 32-bit lane, so the integer sums of 16 chunks come out of
//! `vpdpbusd` already in the lanes §3b gives them (chunk `b` in lane `b % 16`) and no
//! horizontal sum is ever needed: each chunk's 32 unsigned quants are unpacked into a
//! 256-bit register, and 16 of those are transposed so that register `t` holds bytes
//! `4t..4t+4` of every chunk. The activation limbs are laid out the same way once per call.
//! Eight `vpdpbusd` per limb then give every chunk's `sum u_i * l_i`, split at the 16-weight
//! halves (registers 0..4 and 4..8), from which the offsets and integer scales give `I` and
//! `M` in vector integer arithmetic, and their 12-bit pieces enter the lanes by FMA (exact
//! products: fused is what §3b allows).
//!
//! Safe code throughout, as in [`super::avx512`]: `#[target_feature]` functions called only
//! from the multiversioned clone compiled for those features, vectors moved through
//! `bytemuck`.

use std::arch::x86_64::{
    __m256i, __m512, __m512i, _mm_and_si128, _mm_cvtsi32_si128, _mm_set1_epi8, _mm_srli_epi16,
    _mm256_and_si256, _mm256_maskz_mov_epi8, _mm256_or_si256, _mm256_set_m128i, _mm256_set1_epi8,
    _mm256_slli_epi16, _mm256_srl_epi16, _mm256_xor_si256, _mm512_add_epi32, _mm512_and_si512,
    _mm512_castsi256_si512, _mm512_cvtepi32_ps, _mm512_cvtph_ps, _mm512_dpbusd_epi32,
    _mm512_fmadd_ps, _mm512_inserti64x4, _mm512_mul_ps, _mm512_mullo_epi32,
    _mm512_permutex2var_epi32, _mm512_set1_epi32, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_setzero_si512, _mm512_sub_epi32, _mm512_xor_ps,
};

use bytemuck::{Pod, Zeroable};

use super::blocks::{BLOCK_LANES, Q4K, Q5_0, Q6K, Q8_0, Storage};
use super::pairs::{FOLDED, fold_sixteen};
use crate::canonical::canonical;
use crate::int8::{Int8Rows, LOW_LIMB_SHIFT};
use crate::quantized::QUANT_BLOCK;

/// Chunks per group: one per lane.
const GROUP: usize = BLOCK_LANES;
/// Bytes of one limb of a group: 32 per chunk.
const GROUP_BYTES: usize = GROUP * QUANT_BLOCK;

/// One token's activations for one group of 16 chunks, in the kernel's layout.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(super) struct GroupActs {
    /// `[limb][t][chunk][4]`: bytes `4t..4t+4` of every chunk's limb, chunk by chunk.
    limbs: [[i8; GROUP_BYTES]; 2],
    /// Each chunk's scale `2^k` (0 past the row's last chunk).
    scales: [f32; GROUP],
    /// `[limb][half][chunk]`: the sum of each 16-value half of each chunk's limb.
    half_sums: [[[i32; GROUP]; 2]; 2],
}

/// Whether this CPU has what [`row`] needs.
pub(super) fn supported() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512dq")
}

/// Groups per row of `cols` columns.
pub(super) fn groups(cols: usize) -> usize {
    (cols / QUANT_BLOCK).div_ceil(GROUP)
}

/// Every token's activations, `groups(cols)` groups a token.
pub(super) fn layout(acts: &Int8Rows, cols: usize) -> Vec<GroupActs> {
    let chunks = cols / QUANT_BLOCK;
    let tokens = acts.high.len() / cols;
    let per_token = groups(cols);
    let mut out = vec![GroupActs::zeroed(); tokens * per_token];
    for (t, token) in out.chunks_exact_mut(per_token).enumerate() {
        for b in 0..chunks {
            let g = &mut token[b / GROUP];
            let c = b % GROUP;
            g.scales[c] = acts.scales[t * chunks + b];
            for (limb, values) in [&acts.high, &acts.low].into_iter().enumerate() {
                let q = &values[t * cols + b * QUANT_BLOCK..][..QUANT_BLOCK];
                for (i, &v) in q.iter().enumerate() {
                    g.limbs[limb][(i / 4) * GROUP * 4 + c * 4 + i % 4] = v;
                    g.half_sums[limb][i / 16][c] += i32::from(v);
                }
            }
        }
    }
    out
}

/// Each chunk's scales and offset, lane by lane (zero past the row's last chunk).
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct GroupScales {
    d: [f32; GROUP],
    dmin: [f32; GROUP],
    a: [[i32; GROUP]; 2],
    m: [i32; GROUP],
}

/// One group of one row in the kernel's form: the 16 chunks' quants transposed (register
/// `t` holds bytes `4t..4t+4` of chunk `c` in lane `c`) and their scales.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(super) struct GroupWeights {
    quants: [__m512i; 8],
    scales: GroupScales,
}

/// `rows` (each `units` blocks of `B`) in the kernel's form, `groups` a row, into
/// `prepared`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
pub(super) fn prepare<B: Storage>(rows: &[B], units: usize, prepared: &mut [GroupWeights]) {
    let chunks = units * B::CHUNKS;
    let per_row = chunks.div_ceil(GROUP);
    for (row, prepared) in rows
        .chunks_exact(units)
        .zip(prepared.chunks_exact_mut(per_row))
    {
        for (g, prepared) in prepared.iter_mut().enumerate() {
            *prepared = prepare_group(row, g);
        }
    }
}

/// One token against `rows` (each `units` blocks of `B`), into `out[r]`: each group put in
/// the kernel's form and used at once, never stored (a decode step streams the weights
/// once; a round trip through a scratch buffer was half its time).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
pub(super) fn one_token<B: Storage>(rows: &[B], units: usize, acts: &[GroupActs], out: &mut [f32]) {
    for (rows, out) in rows.chunks(FOLDED * units).zip(out.chunks_mut(FOLDED)) {
        let mut acc = [_mm512_setzero_ps(); FOLDED];
        for (row, acc) in rows.chunks_exact(units).zip(&mut acc) {
            for (g, x) in acts.iter().enumerate() {
                let w = prepare_group(row, g);
                *acc = group::<B>(&w.quants, &w.scales, x, *acc);
            }
        }
        let sums = fold_sixteen(acc);
        for (r, o) in out.iter_mut().enumerate() {
            // Element 4k + m of the fold is output 4m + k.
            *o = canonical(sums[4 * (r % 4) + r / 4]);
        }
    }
}

/// Group `g` of `row` in the kernel's form.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
fn prepare_group<B: Storage>(row: &[B], g: usize) -> GroupWeights {
    let first = g * GROUP;
    let n = GROUP.min(row.len() * B::CHUNKS - first);
    let chunk = |c: usize| {
        if c < n {
            let (b, j) = ((first + c) / B::CHUNKS, (first + c) % B::CHUNKS);
            // A decode step streams every weight from memory once; the hardware
            // prefetcher alone left this loop waiting on it.
            super::avx512::prefetch_block(&row[b]);
            unpack::<B>(&row[b], j)
        } else {
            _mm256_set1_epi8(0)
        }
    };
    // Two chunks a register, built in registers: through a stack array the wide
    // loads of two narrow stores stalled on store forwarding.
    let mut pairs = [_mm512_setzero_si512(); 8];
    for (k, pair) in pairs.iter_mut().enumerate() {
        *pair = _mm512_inserti64x4(_mm512_castsi256_si512(chunk(2 * k)), chunk(2 * k + 1), 1);
    }
    let mut scales = GroupScales::zeroed();
    if B::KIND == Q8_0 || B::KIND == Q5_0 {
        // One chunk a block, `d` its first two bytes, no integer scales: the scales
        // widen 16 at a time (exactly, denormals included).
        let mut bits = [0u16; GROUP];
        for (c, bits) in bits.iter_mut().enumerate().take(n) {
            let d = &bytemuck::bytes_of(&row[first + c])[..2];
            *bits = u16::from_le_bytes([d[0], d[1]]);
        }
        scales.d = bytemuck::cast(_mm512_cvtph_ps(bytemuck::cast(bits)));
    } else {
        for c in 0..n {
            let (b, j) = ((first + c) / B::CHUNKS, (first + c) % B::CHUNKS);
            let s = row[b].int_scales(j);
            scales.d[c] = s.d;
            scales.a[0][c] = s.a[0];
            scales.a[1][c] = s.a[1];
            if let Some((m, dmin)) = s.min {
                scales.m[c] = m;
                scales.dmin[c] = dmin;
            }
        }
    }
    GroupWeights {
        quants: transpose(&pairs),
        scales,
    }
}

/// Prepared rows (`groups` each) against every token of `acts` (laid out by [`layout`]),
/// row `r` of token `t` into `out[t * stride + r]`. Token by token, so the token's
/// activations stay in L1 while every prepared row passes over them (rows a few at a time
/// keep those in L1 too).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
pub(super) fn product<B: Storage>(
    prepared: &[GroupWeights],
    groups: usize,
    acts: &[GroupActs],
    stride: usize,
    out: &mut [f32],
) {
    for (t, x) in acts.chunks_exact(groups).enumerate() {
        // Sixteen rows' lanes are folded at once (a horizontal fold per output was a third
        // of the kernel's time).
        for (first, w) in prepared.chunks(FOLDED * groups).enumerate() {
            let mut acc = [_mm512_setzero_ps(); FOLDED];
            for (acc, w) in acc.iter_mut().zip(w.chunks_exact(groups)) {
                for (w, x) in w.iter().zip(x) {
                    *acc = group::<B>(&w.quants, &w.scales, x, *acc);
                }
            }
            let sums = fold_sixteen(acc);
            for r in 0..w.len() / groups {
                // Element 4k + m of the fold is output 4m + k.
                let sum = sums[4 * (r % 4) + r / 4];
                out[t * stride + first * FOLDED + r] = canonical(sum);
            }
        }
    }
}

/// One group of one row against one token's activations, added to the lanes `acc`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
fn group<B: Storage>(w: &[__m512i; 8], s: &GroupScales, x: &GroupActs, acc: __m512) -> __m512 {
    let beta = match B::KIND {
        Q8_0 => 128,
        Q5_0 => 16,
        Q4K => 0,
        _ => 32,
    };
    let scaled = B::KIND == Q4K || B::KIND == Q6K;
    let a0 = load_i(&s.a[0]);
    let a1 = load_i(&s.a[1]);
    let mut ints = [_mm512_setzero_si512(); 2];
    let mut mins = [_mm512_setzero_si512(); 2];
    for limb in 0..2 {
        let bytes = &x.limbs[limb];
        // Two chains a half, added at the end: four dependent vpdpbusd made each token
        // wait on their latency.
        let mut sums = [_mm512_setzero_si512(); 4];
        for (t, w) in w.iter().enumerate() {
            let l = load_bytes(&bytes[t * 64..]);
            sums[t / 2] = _mm512_dpbusd_epi32(sums[t / 2], *w, l);
        }
        let halves = [
            _mm512_add_epi32(sums[0], sums[1]),
            _mm512_add_epi32(sums[2], sums[3]),
        ];
        let x0 = load_i(&x.half_sums[limb][0]);
        let x1 = load_i(&x.half_sums[limb][1]);
        // sum (u - beta) * l over each half: the offset's share is beta * (sum of l).
        let h0 = _mm512_sub_epi32(halves[0], _mm512_mullo_epi32(_mm512_set1_epi32(beta), x0));
        let h1 = _mm512_sub_epi32(halves[1], _mm512_mullo_epi32(_mm512_set1_epi32(beta), x1));
        ints[limb] = if scaled {
            _mm512_add_epi32(_mm512_mullo_epi32(a0, h0), _mm512_mullo_epi32(a1, h1))
        } else {
            _mm512_add_epi32(h0, h1)
        };
        if B::KIND == Q4K {
            mins[limb] = _mm512_mullo_epi32(load_i(&s.m), _mm512_add_epi32(x0, x1));
        }
    }
    let low_unit = _mm512_set1_ps(f32::from_bits(((127 - LOW_LIMB_SHIFT) as u32) << 23));
    let token_scales = load_f(&x.scales);
    let f = _mm512_mul_ps(load_f(&s.d), token_scales);
    let mut acc = add_scaled(f, ints[0], acc);
    acc = add_scaled(_mm512_mul_ps(f, low_unit), ints[1], acc);
    if B::KIND == Q4K {
        let sign = _mm512_set1_ps(-0.0);
        let g = _mm512_xor_ps(_mm512_mul_ps(load_f(&s.dmin), token_scales), sign);
        acc = add_scaled(g, mins[0], acc);
        acc = add_scaled(_mm512_mul_ps(g, low_unit), mins[1], acc);
    }
    acc
}

/// `acc + f * n` lane by lane, as `f * hi` then `f * lo` (`lo = n & 4095`).
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn add_scaled(f: __m512, n: __m512i, acc: __m512) -> __m512 {
    let lo = _mm512_and_si512(n, _mm512_set1_epi32(4095));
    let hi = _mm512_sub_epi32(n, lo);
    let acc = _mm512_fmadd_ps(f, _mm512_cvtepi32_ps(hi), acc);
    _mm512_fmadd_ps(f, _mm512_cvtepi32_ps(lo), acc)
}

/// Chunk `j` of `block`'s 32 unsigned quants (§3b's `u`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn unpack<B: Storage>(block: &B, j: usize) -> __m256i {
    let bytes: &[u8] = bytemuck::bytes_of(block);
    let nibbles = _mm256_set1_epi8(0x0F);
    match B::KIND {
        // d (2 bytes), then 32 two's complement quants: flip the sign bit for q + 128.
        Q8_0 => _mm256_xor_si256(load_256(&bytes[2..]), _mm256_set1_epi8(-128)),
        // d (2), qh (4), qs (16): low nibbles are weights 0..16, high ones 16..32.
        Q5_0 => {
            let qs = load_128(&bytes[6..]);
            let low = _mm_and_si128(qs, _mm_set1_epi8(0x0F));
            let high = _mm_and_si128(_mm_srli_epi16(qs, 4), _mm_set1_epi8(0x0F));
            let qh = u32::from_le_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
            let fifth = _mm256_maskz_mov_epi8(qh, _mm256_set1_epi8(0x10));
            _mm256_or_si256(_mm256_set_m128i(high, low), fifth)
        }
        // d, dmin (4), scales (12), then 128 bytes: chunks 2g and 2g + 1 share 32 of them.
        Q4K => {
            let quants = load_256(&bytes[16 + 32 * (j / 2)..]);
            let shift = _mm_cvtsi32_si128(4 * (j % 2) as i32);
            _mm256_and_si256(_mm256_srl_epi16(quants, shift), nibbles)
        }
        // ql (128), qh (64): low nibble and two high bits, as `BlockQ6K::chunk_quants`.
        _ => {
            let (half, k) = (j / 4, j % 4);
            let low = load_256(&bytes[64 * half + 32 * (k % 2)..]);
            let high = load_256(&bytes[128 + 32 * half..]);
            let low = _mm256_and_si256(
                _mm256_srl_epi16(low, _mm_cvtsi32_si128(4 * (k / 2) as i32)),
                nibbles,
            );
            let high = _mm256_and_si256(
                _mm256_srl_epi16(high, _mm_cvtsi32_si128(2 * k as i32)),
                _mm256_set1_epi8(0x03),
            );
            _mm256_or_si256(low, _mm256_slli_epi16(high, 4))
        }
    }
}

/// 16 chunks' quants, two a register (chunk `2k` in the low half of `pairs[k]`), into 8
/// registers, register `t` holding bytes `4t..4t+4` of chunk `c` in lane `c`: three rounds
/// of two-source permutes (quads by 4-byte groups, octets by pairs of them, all 16 by
/// single ones).
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose(pairs: &[__m512i; 8]) -> [__m512i; 8] {
    let (a_lo, a_hi) = (load_i(&A_LO), load_i(&A_HI));
    let quads: [[__m512i; 2]; 4] = std::array::from_fn(|m| {
        [
            _mm512_permutex2var_epi32(pairs[2 * m], a_lo, pairs[2 * m + 1]),
            _mm512_permutex2var_epi32(pairs[2 * m], a_hi, pairs[2 * m + 1]),
        ]
    });
    let (b0, b1) = (load_i(&B_EVEN), load_i(&B_ODD));
    let octets: [[__m512i; 4]; 2] = std::array::from_fn(|n| {
        let (x, y) = (quads[2 * n], quads[2 * n + 1]);
        [
            _mm512_permutex2var_epi32(x[0], b0, y[0]),
            _mm512_permutex2var_epi32(x[0], b1, y[0]),
            _mm512_permutex2var_epi32(x[1], b0, y[1]),
            _mm512_permutex2var_epi32(x[1], b1, y[1]),
        ]
    });
    let (c0, c1) = (load_i(&C_EVEN), load_i(&C_ODD));
    std::array::from_fn(|t| {
        let idx = if t % 2 == 0 { c0 } else { c1 };
        _mm512_permutex2var_epi32(octets[0][t / 2], idx, octets[1][t / 2])
    })
}

// Two-source permute indices: `16 + i` reads lane `i` of the second source.
/// Pairs (chunk 2k in lanes 0..8, 2k + 1 in 8..16) to quads: lane `4c + d` = chunk `c`'s
/// 32-bit group `d` (lo) or `d + 4` (hi).
const A_LO: [i32; GROUP] = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
const A_HI: [i32; GROUP] = [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31];
/// Quads to octets: lane `2c + d` = chunk `c`'s group `d` (even) or `d + 2` (odd) of the four.
const B_EVEN: [i32; GROUP] = [0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29];
const B_ODD: [i32; GROUP] = [2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31];
/// Octets to all 16: lane `c` = chunk `c`'s first (even) or second (odd) group of the two.
const C_EVEN: [i32; GROUP] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
const C_ODD: [i32; GROUP] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31];

#[inline(always)]
fn load_256(s: &[u8]) -> __m256i {
    bytemuck::pod_read_unaligned(&s[..32])
}

#[inline(always)]
fn load_128(s: &[u8]) -> std::arch::x86_64::__m128i {
    bytemuck::pod_read_unaligned(&s[..16])
}

#[inline(always)]
fn load_bytes(s: &[i8]) -> __m512i {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&s[..64]))
}

#[inline(always)]
fn load_i(s: &[i32; GROUP]) -> __m512i {
    bytemuck::cast(*s)
}

#[inline(always)]
fn load_f(s: &[f32; GROUP]) -> __m512 {
    bytemuck::cast(*s)
}
