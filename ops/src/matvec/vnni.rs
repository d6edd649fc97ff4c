//! The AVX-512 VNNI form of the quantized product ([`super::blocks`], DETERMINISM.md §3b).
//!
//! Chunks go 16 at a time, one per 32-bit lane, so the integer sums of 16 chunks come out of
//! `vpdpbusd` already in the lanes §3b gives them (chunk `b` in lane `b % 16`) and no
//! horizontal sum is ever needed. The weights come laid out for it
//! ([`super::lanes::PreparedBlocks`]: register `t` holds bytes `4t..4t+4` of every chunk);
//! the activation limbs are laid out the same way once per call, with each chunk's limb sums
//! (the offset's share `-beta * sum l` is computed there, once, and starts the chunk's
//! integer sum). Eight `vpdpbusd` per limb then give every chunk's `sum (u_i - beta) * l_i`
//! (Q6_K's split at the 16-weight halves, registers 0..4 and 4..8, for its two scales), from
//! which the integer scales give `I` and `M` in vector integer arithmetic (the limbs'
//! combined where the type combines them), and their 13-bit pieces enter the lanes by FMA
//! (exact products: fused is what §3b allows).
//!
//! A prefill's product takes two rows and two tokens at a time: each quant register serves
//! both tokens, each activation register both rows, and the rows' packed quants are
//! decoded once a call (with these, a 512-token Q5_0 product on one thread went from 23.5
//! to 15.9 ms).
//!
//! Safe code throughout, as in [`super::avx512`]: `#[target_feature]` functions called only
//! from the multiversioned clone compiled for those features, vectors moved through
//! `bytemuck`.

use std::arch::x86_64::{
    __m512, __m512i, _MM_HINT_T2, _mm_prefetch, _mm512_add_epi32, _mm512_and_si512,
    _mm512_cvtepi8_epi32, _mm512_cvtepi32_ps, _mm512_cvtph_ps, _mm512_dpbusd_epi32,
    _mm512_fmadd_ps, _mm512_mask_add_epi8, _mm512_mask_permutexvar_ps, _mm512_mul_ps,
    _mm512_mullo_epi32, _mm512_set1_epi8, _mm512_set1_epi32, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_setzero_si512, _mm512_slli_epi32, _mm512_srli_epi16, _mm512_sub_epi32, _mm512_xor_ps,
};

use bytemuck::{Pod, Zeroable};

use super::blocks::{LOW_UNIT, PIECE_MASK, Q4K, Q5_0, Q6K, Q8_0, Storage, combine_limbs};
use super::lanes::{Encoding, PreparedBlocks, SLOTS, Shape};
use super::pairs::{FOLDED, fold_sixteen};
use crate::canonical::canonical_lanes;
use crate::int8::{LOW_LIMB_SHIFT, quantize_block};
use crate::quantized::QUANT_BLOCK;

/// Chunks per group: one per lane.
const GROUP: usize = SLOTS;
/// Bytes of one limb of a group: 32 per chunk.
const GROUP_BYTES: usize = GROUP * QUANT_BLOCK;

/// One token's activations for one group of 16 chunks, in the kernel's layout. Aligned to
/// a cache line (its size is 21 of them), so none of the 16 register loads a group's
/// `vpdpbusd` take from it straddles two lines: 4% of a prefill, 5% of a decode step.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
pub(super) struct GroupActs {
    /// `[limb][t][chunk][4]`: bytes `4t..4t+4` of every chunk's limb, chunk by chunk.
    limbs: [[i8; GROUP_BYTES]; 2],
    /// Each chunk's scale `2^k` (0 past the row's last chunk).
    scales: [f32; GROUP],
    /// `[limb][k][chunk]`, sums of each chunk's limbs: for Q6_K (two integer scales a chunk)
    /// those of its two 16-value halves; for the others, `[limb][0]` is `-beta * sum` (the
    /// offset's share of the integer sum) and `[0][1]` the limbs' sums combined, `256 *
    /// high + low` (Q4_K's min takes it; `[1][1]` is 0).
    sums: [[[i32; GROUP]; 2]; 2],
}

/// Whether this CPU has what the kernel needs.
pub(super) fn supported() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512dq")
}

/// One token's activations `x` (`cols` values) quantized into limbs (§3b,
/// [`quantize_block`]) straight into its groups `token` (`shape.token_groups()` of them):
/// chunk `16g + c` in lane `c` of group `g`, and the tail's chunk `i` in lane
/// `shape.tail_lane(j, i)` of the last group for every row `j` of a pack. Every lane of
/// every group is written (those with no chunk with zeros), so `token` may hold anything
/// before: a buffer is reused across calls without being cleared.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
pub(super) fn lay_out_token<B: Storage>(x: &[f32], shape: Shape, token: &mut [GroupActs]) {
    let (blocks, _) = x.as_chunks::<QUANT_BLOCK>();
    for (b, block) in blocks.iter().enumerate() {
        let q = quantize_block(block);
        // A full group's chunk has one lane; a tail chunk one in every row of a pack.
        let (g, i, copies) = if b < shape.full * SLOTS {
            (b / SLOTS, b % SLOTS, 1)
        } else {
            (shape.full, b - shape.full * SLOTS, shape.pack)
        };
        for c in (0..copies).map(|j| shape.tail_lane(j, i)) {
            put::<B>(&mut token[g], c, &q.high, &q.low, q.scale);
        }
    }
    if shape.tail > 0 {
        let zero = [0; QUANT_BLOCK];
        for c in shape.pack * shape.tail..GROUP {
            put::<B>(&mut token[shape.full], c, &zero, &zero, 0.0);
        }
    }
}

/// Lane `c` of group `g`: the limbs `high` and `low` of one chunk, its scale, and the sums
/// a `B` matrix takes of them.
#[inline(always)]
fn put<B: Storage>(g: &mut GroupActs, c: usize, high: &Limb, low: &Limb, scale: f32) {
    g.scales[c] = scale;
    let sum = |q: &[i8]| q.iter().map(|&v| i32::from(v)).sum::<i32>();
    let totals = [sum(high), sum(low)];
    for (limb, q) in [high, low].into_iter().enumerate() {
        for (w, word) in q.chunks_exact(4).enumerate() {
            g.limbs[limb][w * GROUP * 4 + c * 4..][..4].copy_from_slice(word);
        }
        let [s0, s1] = if B::KIND == Q6K {
            let (h0, h1) = q.split_at(QUANT_BLOCK / 2);
            [sum(h0), sum(h1)]
        } else if limb == 0 {
            [-B::BETA * totals[0], combine_limbs(totals[0], totals[1])]
        } else {
            [-B::BETA * totals[1], 0]
        };
        g.sums[limb][0][c] = s0;
        g.sums[limb][1][c] = s1;
    }
}

/// One chunk's limb: 32 int8 values.
type Limb = [i8; QUANT_BLOCK];

/// A group's scales, lane by lane (zero in lanes that hold no chunk).
#[derive(Clone, Copy)]
struct Scales {
    d: __m512,
    dmin: __m512,
    a: [__m512i; 2],
    m: __m512i,
}

/// Rows `first..first + n` of `p` (`first` a multiple of 16, `n <= 16`) against every
/// token of `acts` (laid out by [`lay_out_token`]), row `first + r` of token `t` into
/// `out[t * stride + r]`. Tokens pass over the 16 rows [`PASS`] at a time, so the rows'
/// groups stay in L1 while the tokens pass; with more than one token, packed quants are
/// decoded into registers' form once, before the first pass, for all of them.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
pub(super) fn rows<B: Storage>(
    p: &PreparedBlocks,
    first: usize,
    n: usize,
    acts: &[GroupActs],
    stride: usize,
    out: &mut [f32],
) {
    debug_assert_eq!(p.kind(), B::KIND);
    let shape = p.shape();
    let per_token = shape.token_groups();
    let mut decoded = DECODED.take();
    decoded.clear();
    // (One token decodes each group as it goes: a decode step reads every group once.)
    let several = acts.len() > per_token && p.encoding() != Encoding::Bytes;
    if several {
        for r in 0..n {
            for g in 0..shape.own() {
                decoded.push(registers(p, p.own_group(first + r, g)));
            }
        }
        if shape.pack > 1 {
            for k in 0..n.div_ceil(shape.pack) {
                decoded.push(registers(p, p.tail_group(first / shape.pack + k)));
            }
        }
    }
    let quants = several.then_some(&decoded[..]);
    let done = passes::<B, PASS>(p, first, n, acts, stride, out, quants);
    if done * per_token < acts.len() {
        let rest = &acts[done * per_token..];
        passes::<B, 1>(p, first, n, rest, stride, &mut out[done * stride..], quants);
    }
    DECODED.set(decoded);
}

thread_local! {
    /// The quants [`rows`] decoded on this thread last: the own groups of its rows, row by
    /// row, then their tail groups. Decoded once a call instead of once a pass of two
    /// tokens, a 512-token Q5_0 product took 12% less time.
    static DECODED: std::cell::Cell<Vec<[__m512i; 8]>> =
        const { std::cell::Cell::new(Vec::new()) };
}

/// Tokens a pass takes: two made 512-token Q5_0, Q4_K and Q6_K products 14%, 10% and 10%
/// faster than one (each group's quants and scales taken once for both, two chains of
/// dependent FMAs side by side); four were no faster than one.
const PASS: usize = 2;

/// The first `acts.len() / T` whole passes of `T` tokens of [`rows`]; returns the tokens
/// done. Only the first pass reads the groups from memory.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
fn passes<B: Storage, const T: usize>(
    p: &PreparedBlocks,
    first: usize,
    n: usize,
    acts: &[GroupActs],
    stride: usize,
    out: &mut [f32],
    quants: Option<&[[__m512i; 8]]>,
) -> usize {
    let per_token = p.shape().token_groups();
    let mut done = 0;
    // Zeroed once, not once a pass (that memset was 2% of a prefill): each pass overwrites
    // the first `n` rows, and the rest stay zero.
    let mut sums = [[_mm512_setzero_ps(); FOLDED]; T];
    for (i, x) in acts.chunks_exact(T * per_token).enumerate() {
        let x: [&[GroupActs]; T] = std::array::from_fn(|k| &x[k * per_token..][..per_token]);
        sixteen_rows::<B, T>(p, first, n, x, i == 0, &mut sums, quants);
        for (k, sums) in sums.iter().enumerate() {
            store(*sums, n, &mut out[(done + k) * stride..]);
        }
        done += T;
    }
    done
}

/// The first `n` of sixteen rows' lanes, folded into `out[..n]`. Sixteen rows are folded at
/// once (a horizontal fold per output was a third of the kernel's time).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
fn store(lanes: [__m512; FOLDED], n: usize, out: &mut [f32]) {
    let sums: [f32; FOLDED] = bytemuck::cast(canonical_lanes(fold_sixteen(lanes)));
    out[..n].copy_from_slice(&sums[..n]);
}

/// The lanes of rows `first..first + n` against `T` tokens' groups `x`, into the first
/// `n` of each token's `acc`. `quants` are the rows' groups decoded as [`DECODED`] holds
/// them; without, each group is decoded where it is used.
///
/// Plain index loops on purpose: written with iterators, `map` and rows-major arrays, the
/// same code ran 25% slower.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[allow(clippy::needless_range_loop)]
fn sixteen_rows<B: Storage, const T: usize>(
    p: &PreparedBlocks,
    first: usize,
    n: usize,
    x: [&[GroupActs]; T],
    fetch: bool,
    acc: &mut [[__m512; FOLDED]; T],
    quants: Option<&[[__m512i; 8]]>,
) {
    let shape = p.shape();
    // Two rows at a time: each activation register loaded once for both.
    for r in (0..n - n % 2).step_by(2) {
        let a = own_groups::<B, T, 2>(p, first, r, x, fetch, quants);
        for t in 0..T {
            acc[t][r] = a[0][t];
            acc[t][r + 1] = a[1][t];
        }
    }
    if n % 2 == 1 {
        let [a] = own_groups::<B, T, 1>(p, first, n - 1, x, fetch, quants);
        acc.iter_mut().zip(a).for_each(|(acc, a)| acc[n - 1] = a);
    }
    if shape.pack > 1 {
        // Each pack's accumulators are moved into the lanes of their tails, take the tail
        // group, and go back: row j's lane i is lane j * tail + i there.
        let tail = shape.tail;
        let mask = (1u16 << tail) - 1;
        let lane = load_i(&IOTA);
        // `tail` divides 16: a power of two.
        let to_tail = _mm512_and_si512(lane, _mm512_set1_epi32(tail as i32 - 1));
        for k in 0..n.div_ceil(shape.pack) {
            let pack = k * shape.pack..n.min((k + 1) * shape.pack);
            let mut lanes = [_mm512_setzero_ps(); T];
            let mut xs = [&x[0][shape.full]; T];
            for t in 0..T {
                xs[t] = &x[t][shape.full];
                for (j, r) in pack.clone().enumerate() {
                    let into = mask << (j * tail);
                    lanes[t] = _mm512_mask_permutexvar_ps(lanes[t], into, to_tail, acc[t][r]);
                }
            }
            let g = p.tail_group(first / shape.pack + k);
            if fetch {
                prefetch(p, g);
            }
            let decoded = [n * shape.own() + k];
            let [lanes] = group::<B, T, 1>(p, [g], quants, decoded, xs, [lanes]);
            for t in 0..T {
                for (j, r) in pack.clone().enumerate() {
                    let shifted = _mm512_add_epi32(lane, _mm512_set1_epi32((j * tail) as i32));
                    let back = _mm512_and_si512(shifted, _mm512_set1_epi32(GROUP as i32 - 1));
                    acc[t][r] = _mm512_mask_permutexvar_ps(acc[t][r], mask, back, lanes[t]);
                }
            }
        }
    }
}

/// The lanes of rows `first + r .. first + r + R` over their own groups (all but a packed
/// tail) against `T` tokens' groups `x`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[allow(clippy::needless_range_loop)]
fn own_groups<B: Storage, const T: usize, const R: usize>(
    p: &PreparedBlocks,
    first: usize,
    r: usize,
    x: [&[GroupActs]; T],
    fetch: bool,
    quants: Option<&[[__m512i; 8]]>,
) -> [[__m512; T]; R] {
    let own = p.shape().own();
    let mut a = [[_mm512_setzero_ps(); T]; R];
    for g in 0..own {
        let mut w = [0; R];
        let mut decoded = [0; R];
        for k in 0..R {
            w[k] = p.own_group(first + r + k, g);
            if fetch {
                prefetch(p, w[k]);
            }
            decoded[k] = (r + k) * own + g;
        }
        let mut xs = [&x[0][g]; T];
        for t in 1..T {
            xs[t] = &x[t][g];
        }
        a = group::<B, T, R>(p, w, quants, decoded, xs, a);
    }
    a
}

/// Groups ahead of the one in use that [`prefetch`] asks for: 16 KiB of quants.
const PREFETCH_GROUPS: usize = 32;

/// Asks for the bytes of group `g + PREFETCH_GROUPS` (past the end is harmless): a decode
/// step streams every group from memory once, and the hardware prefetcher alone left the
/// kernel waiting on it for most of its time.
#[inline]
#[target_feature(enable = "avx512f")]
fn prefetch(p: &PreparedBlocks, g: usize) {
    let (quants, d, ints) = p.streams();
    let ahead = g + PREFETCH_GROUPS;
    let lines = p.encoding().lines();
    let q = quants.as_ptr().wrapping_add(ahead * lines);
    for line in 0..lines {
        _mm_prefetch::<_MM_HINT_T2>(q.wrapping_add(line).cast());
    }
    _mm_prefetch::<_MM_HINT_T2>(d.as_ptr().wrapping_add(ahead).cast());
    if !ints.is_empty() {
        let i = ints.as_ptr().wrapping_add(ahead).cast::<i8>();
        _mm_prefetch::<_MM_HINT_T2>(i);
        _mm_prefetch::<_MM_HINT_T2>(i.wrapping_add(64));
    }
}

/// Groups `g` of `R` rows of `p` against `T` tokens' activations, added to their lanes
/// `acc` (`acc[r][t]`): each row's quants taken from `quants` at `decoded` (decoded before
/// the passes) or, without, decoded here once for all the tokens.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
fn group<B: Storage, const T: usize, const R: usize>(
    p: &PreparedBlocks,
    g: [usize; R],
    quants: Option<&[[__m512i; 8]]>,
    decoded: [usize; R],
    x: [&GroupActs; T],
    mut acc: [[__m512; T]; R],
) -> [[__m512; T]; R] {
    let mut w = [[_mm512_setzero_si512(); 8]; R];
    let mut s = [scales::<B>(p, g[0]); R];
    for r in 0..R {
        w[r] = match quants {
            Some(q) => q[decoded[r]],
            None => registers(p, g[r]),
        };
        if r > 0 {
            s[r] = scales::<B>(p, g[r]);
        }
    }
    for t in 0..T {
        let mut a = [_mm512_setzero_ps(); R];
        for r in 0..R {
            a[r] = acc[r][t];
        }
        a = token::<B, R>(&w, &s, x[t], a);
        for r in 0..R {
            acc[r][t] = a[r];
        }
    }
    acc
}

/// One token's share of a group of `R` rows: their decoded quants `w` and scales `s`
/// against its activations `x` (each activation register loaded once for all rows),
/// added to the lanes `acc`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[allow(clippy::needless_range_loop)]
fn token<B: Storage, const R: usize>(
    w: &[[__m512i; 8]; R],
    s: &[Scales; R],
    x: &GroupActs,
    mut acc: [__m512; R],
) -> [__m512; R] {
    let zero = _mm512_setzero_si512();
    let mut ints = [[zero; 2]; R];
    for limb in 0..2 {
        let bytes = &x.limbs[limb];
        let [x0, x1] = x.sums[limb].each_ref().map(load_i);
        let mut halves = if B::KIND == Q6K {
            [[zero; 2]; R]
        } else {
            [[x0, zero]; R]
        };
        for t in 0..8 {
            let l = load_bytes(&bytes[t * 64..]);
            for r in 0..R {
                halves[r][t / 4] = _mm512_dpbusd_epi32(halves[r][t / 4], w[r][t], l);
            }
        }
        for r in 0..R {
            let [a0, a1] = s[r].a;
            ints[r][limb] = match B::KIND {
                Q6K => {
                    let beta = _mm512_set1_epi32(B::BETA);
                    let h0 = _mm512_sub_epi32(halves[r][0], _mm512_mullo_epi32(beta, x0));
                    let h1 = _mm512_sub_epi32(halves[r][1], _mm512_mullo_epi32(beta, x1));
                    _mm512_add_epi32(_mm512_mullo_epi32(a0, h0), _mm512_mullo_epi32(a1, h1))
                }
                Q4K => _mm512_mullo_epi32(a0, _mm512_add_epi32(halves[r][0], halves[r][1])),
                _ => _mm512_add_epi32(halves[r][0], halves[r][1]),
            };
        }
    }
    let low_unit = _mm512_set1_ps(LOW_UNIT);
    let token_scales = load_f(&x.scales);
    for r in 0..R {
        let f = _mm512_mul_ps(s[r].d, token_scales);
        let f_low = _mm512_mul_ps(f, low_unit);
        if B::COMBINED_LIMBS {
            let high = _mm512_slli_epi32::<{ LOW_LIMB_SHIFT as u32 }>(ints[r][0]);
            acc[r] = add_scaled(f_low, _mm512_add_epi32(high, ints[r][1]), acc[r]);
        } else {
            acc[r] = add_scaled(f, ints[r][0], acc[r]);
            acc[r] = add_scaled(f_low, ints[r][1], acc[r]);
        }
        if B::KIND == Q4K {
            let sign = _mm512_set1_ps(-0.0);
            let g = _mm512_xor_ps(_mm512_mul_ps(s[r].dmin, token_scales), sign);
            let m = _mm512_mullo_epi32(s[r].m, load_i(&x.sums[0][1]));
            acc[r] = add_scaled(_mm512_mul_ps(g, low_unit), m, acc[r]);
        }
    }
    acc
}

/// Group `g`'s quants in the kernel's eight registers, decoded from their
/// [`super::lanes::Encoding`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
fn registers(p: &PreparedBlocks, g: usize) -> [__m512i; 8] {
    let lines = p.quants(g);
    let line = |k: usize| -> __m512i { bytemuck::cast(lines[k].0) };
    match p.encoding() {
        Encoding::Bytes => std::array::from_fn(line),
        Encoding::Nibbles | Encoding::NibblesAndFifthBits => {
            let nibble = _mm512_set1_epi8(0x0F);
            let mut r: [__m512i; 8] = std::array::from_fn(|t| {
                let l = line(t / 2);
                let l = if t % 2 == 0 {
                    l
                } else {
                    _mm512_srli_epi16(l, 4)
                };
                _mm512_and_si512(l, nibble)
            });
            if p.encoding() == Encoding::NibblesAndFifthBits {
                let fifth: [u64; 8] = bytemuck::cast(lines[4].0);
                let sixteen = _mm512_set1_epi8(0x10);
                for (r, bits) in r.iter_mut().zip(fifth) {
                    *r = _mm512_mask_add_epi8(*r, u64::from_le(bits), *r, sixteen);
                }
            }
            r
        }
    }
}

/// Group `g`'s scales widened into registers: f16 exactly to f32, 8-bit integers to 32.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
fn scales<B: Storage>(p: &PreparedBlocks, g: usize) -> Scales {
    let d = _mm512_cvtph_ps(bytemuck::cast(*p.d(g)));
    if B::KIND == Q8_0 || B::KIND == Q5_0 {
        let zero = _mm512_setzero_si512();
        return Scales {
            d,
            dmin: _mm512_setzero_ps(),
            a: [zero; 2],
            m: zero,
        };
    }
    let ints = p.ints(g);
    let widen = |v: &[i8; SLOTS]| _mm512_cvtepi8_epi32(bytemuck::cast(*v));
    Scales {
        d,
        dmin: _mm512_cvtph_ps(bytemuck::cast(ints.dmin)),
        a: [widen(&ints.a[0]), widen(&ints.a[1])],
        m: widen(&ints.m),
    }
}

/// `acc + f * n` lane by lane, as `f * hi` then `f * lo` (`lo = n & PIECE_MASK`).
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn add_scaled(f: __m512, n: __m512i, acc: __m512) -> __m512 {
    let lo = _mm512_and_si512(n, _mm512_set1_epi32(PIECE_MASK));
    let hi = _mm512_sub_epi32(n, lo);
    let acc = _mm512_fmadd_ps(f, _mm512_cvtepi32_ps(hi), acc);
    _mm512_fmadd_ps(f, _mm512_cvtepi32_ps(lo), acc)
}

/// Lane indices 0..16.
const IOTA: [i32; GROUP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

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
