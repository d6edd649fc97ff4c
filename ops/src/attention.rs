//! Causal grouped-query attention over a bf16 KV cache, one function for prefill and decode.
//!
//! A query at absolute position `p` attends to the cached keys `0..=p` (or, with a sliding
//! window of `w` keys, `max(0, p + 1 - w)..=p`), visited in blocks of [`ATTENTION_BLOCK`]
//! keys at fixed absolute positions (`0..32`, `32..64`, ...; the last block cut at `p`, the
//! blocks wholly before the window skipped) and combined in block order with an online
//! softmax (DETERMINISM.md §6). Its result therefore depends on its position, the window
//! and the keys it sees only: never on which other queries share the call, how a prompt was
//! chunked, or the thread count.

use std::ops::Range;

use half::bf16;
use multiversion::multiversion;
use multiversion::target::{match_target, target_cfg_f};
use rayon::prelude::*;

use crate::arith::{Fused, MulAdd, Unfused};

#[cfg(target_arch = "x86_64")]
mod avx512;
use crate::canonical::{canonical, ftz};
use crate::error::{
    OpsError, check_len, check_nonzero, check_positions, shape_product, whole_rows,
};
use crate::exact_product::{domain, split, split_mul_add};
use crate::half_float::{bf16_factor, domain_bf16, widen_bf16};
use crate::math::{exp_with, recip_with};
use crate::reduce::{LANES, fold_max, fold_sum, max_keep_first};

/// Keys per attention block. Equal to [`LANES`]: inside a block, key `j` is lane `j`.
pub const ATTENTION_BLOCK: usize = LANES;

/// The head layout and score scale of an attention layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionConfig {
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads; query head `h` reads KV head `h / (n_heads / n_kv_heads)`.
    pub n_kv_heads: usize,
    /// Values per head.
    pub head_dim: usize,
    /// Multiplies the query before it is rounded to bf16 (usually `1/sqrt(head_dim)`).
    pub scale: f32,
    /// Sliding window in keys: a query at absolute position `p` attends the keys
    /// `max(0, p + 1 - w) ..= p`, so key `j` is visible iff `p - j < w` (Gemma 3's and
    /// Mistral's window, masked as llama.cpp and transformers mask it). `None`: all of
    /// `0..=p`. `Some(0)` is refused.
    pub window: Option<usize>,
}

impl AttentionConfig {
    /// Checks the head layout, the scale and the window, as every backend does before it
    /// runs attention.
    pub fn validate(&self) -> Result<(), OpsError> {
        check_nonzero(OP, "n_heads", self.n_heads)?;
        check_nonzero(OP, "n_kv_heads", self.n_kv_heads)?;
        check_nonzero(OP, "head_dim", self.head_dim)?;
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(OpsError::NotDivisible {
                op: OP,
                what: "n_heads by n_kv_heads",
                numerator: self.n_heads,
                denominator: self.n_kv_heads,
            });
        }
        if !self.scale.is_finite() {
            return Err(OpsError::InvalidParam {
                op: OP,
                param: "scale",
                value: self.scale as f64,
                reason: "must be finite",
            });
        }
        if self.window == Some(0) {
            return Err(OpsError::InvalidParam {
                op: OP,
                param: "window",
                value: 0.0,
                reason: "a window must hold at least one key (None attends every earlier key)",
            });
        }
        Ok(())
    }

    /// The first key a query at absolute position `position` sees: `max(0, position + 1 -
    /// window)`, or 0 without a window.
    pub fn first_key(&self, position: usize) -> usize {
        self.window.map_or(0, |w| (position + 1).saturating_sub(w))
    }
}

/// The op name attention's errors carry.
const OP: &str = "attention";

/// A KV cache as attention reads it: K (after RoPE) and V in bf16, both laid out
/// `[position][kv_head][head_dim]`, holding the positions `0..k.len() / (n_kv_heads * head_dim)`.
#[derive(Debug, Clone, Copy)]
pub struct KvView<'a> {
    /// Keys.
    pub k: &'a [bf16],
    /// Values.
    pub v: &'a [bf16],
}

/// Attention with the fastest evaluation this CPU has (vectorised, FMA where available); the
/// bits are those of [`attention_with`] under any [`MulAdd`].
pub fn attention(
    config: &AttentionConfig,
    q: &[f32],
    positions: &[u32],
    kv: KvView<'_>,
    out: &mut [f32],
) -> Result<(), OpsError> {
    attention_by(config, q, positions, kv, out, attend_native)
}

/// Attention for `positions.len()` queries, `q` and `out` laid out
/// `[query][head][head_dim]`; query `t` sits at absolute position `positions[t]`, which
/// must be inside the cache, and sees the keys `config.first_key(p)..=p`.
///
/// Per query and head: `qf = bf16_factor(q * scale)`; per block holding a visible key
/// (lanes of keys it does not see masked: score -inf, weight and value term +0.0), scores
/// `s_j = sum_d qf[d] * k_j[d]` (canonical lanes over `head_dim`), block max `m_b`
/// (canonical max), `m' = max(m, m_b)`, `alpha = exp(m - m')`, `p_j = domain(exp(s_j - m'))`,
/// `l = l*alpha + sum_j p_j` and `acc[d] = acc[d]*alpha + sum_j p_j*v_j[d]` (key `j` in lane
/// `j`, `p_j` split so each product with the bf16 value is exact; the `*alpha` products by
/// [`split_mul_add`]). Output `canonical(acc[d] * recip(l))`.
pub fn attention_with<A: MulAdd>(
    config: &AttentionConfig,
    q: &[f32],
    positions: &[u32],
    kv: KvView<'_>,
    out: &mut [f32],
) -> Result<(), OpsError> {
    attention_by(
        config,
        q,
        positions,
        kv,
        out,
        |q, scale, visible, kv, scratch, out| {
            attend::<A>(q, scale, visible, kv, scratch, out, score_lanes::<A>)
        },
    )
}

/// Checks the shapes, prepares the factors of the cache's visible blocks once, and runs
/// `kernel` (an [`attend`]) for every query and head in parallel.
fn attention_by(
    config: &AttentionConfig,
    q: &[f32],
    positions: &[u32],
    kv: KvView<'_>,
    out: &mut [f32],
    kernel: impl Fn(&[f32], f32, Range<usize>, KvHead<'_>, &mut Scratch, &mut [f32]) + Sync,
) -> Result<(), OpsError> {
    config.validate()?;
    let AttentionConfig {
        n_heads,
        n_kv_heads,
        head_dim,
        scale,
        window: _,
    } = *config;
    check_nonzero(OP, "positions", positions.len())?;
    let q_len = shape_product(
        OP,
        "q (positions x n_heads x head_dim)",
        &[positions.len(), n_heads, head_dim],
    )?;
    check_len(OP, "q", q_len, q.len())?;
    check_len(OP, "out", q.len(), out.len())?;
    let kv_row = shape_product(OP, "n_kv_heads x head_dim", &[n_kv_heads, head_dim])?;
    let cached = whole_rows(OP, "k", kv.k.len(), kv_row)?;
    check_len(OP, "v", kv.k.len(), kv.v.len())?;
    check_positions(OP, "query position", positions, cached)?;

    let group = n_heads / n_kv_heads;
    // Blocks wholly before every query's window are never read: no factors for them (a
    // windowed layer's decode step then prepares about `window` keys, not the whole cache).
    let first_block = positions
        .iter()
        .map(|&p| config.first_key(p as usize))
        .min()
        .unwrap_or(0)
        / ATTENTION_BLOCK;
    let keys = KeyBlocks::new(kv.k, cached, first_block, n_kv_heads, head_dim);
    let base = first_block * ATTENTION_BLOCK;
    let values = cache_factors(&kv.v[base * kv_row..]);
    out.par_chunks_mut(head_dim)
        .zip(q.par_chunks(head_dim))
        .enumerate()
        .for_each_init(
            || Scratch::new(head_dim),
            |scratch, (query_head, (o, q_head))| {
                let (t, h) = (query_head / n_heads, query_head % n_heads);
                let head = KvHead {
                    keys: &keys,
                    values: &values,
                    base,
                    kv_head: h / group,
                    n_kv_heads,
                    head_dim,
                };
                let position = positions[t] as usize;
                let visible = config.first_key(position)..position + 1;
                kernel(q_head, scale, visible, head, scratch, o);
            },
        );
    Ok(())
}

/// The factor a cached bf16 element contributes to a product.
#[inline(always)]
fn cache_factor(v: bf16) -> f32 {
    widen_bf16(domain_bf16(v.to_bits()))
}

/// Every cached element as its factor, once per call instead of once per query and head.
/// In parallel: a decode step pays this once per layer, on the whole cache.
fn cache_factors(cache: &[bf16]) -> Vec<f32> {
    cache.par_iter().map(|&v| cache_factor(v)).collect()
}

/// The keys as factors, transposed block by block: for KV head `h`, block `b`, element `d`,
/// the [`ATTENTION_BLOCK`] keys of the block side by side (positions past the cache hold
/// +0.0 and are never read as scores). A block's scores then advance together, one
/// vector operation per head element, instead of one dot product per key. Only the blocks
/// from `first_block` on are held.
struct KeyBlocks {
    factors: Vec<[f32; ATTENTION_BLOCK]>,
    first_block: usize,
    blocks: usize,
    head_dim: usize,
}

impl KeyBlocks {
    fn new(
        k: &[bf16],
        cached: usize,
        first_block: usize,
        n_kv_heads: usize,
        head_dim: usize,
    ) -> Self {
        let blocks = cached.div_ceil(ATTENTION_BLOCK) - first_block;
        let row = n_kv_heads * head_dim;
        let mut factors = vec![[0.0f32; ATTENTION_BLOCK]; n_kv_heads * blocks * head_dim];
        // One task per (KV head, block), in parallel: a decode step rebuilds this for the
        // whole cache in every layer.
        factors
            .par_chunks_mut(head_dim)
            .enumerate()
            .for_each(|(i, block)| {
                let (h, b) = (i / blocks, first_block + i % blocks);
                let first = b * ATTENTION_BLOCK;
                for (j, p) in (first..cached.min(first + ATTENTION_BLOCK)).enumerate() {
                    let key = &k[p * row + h * head_dim..][..head_dim];
                    for (column, &v) in block.iter_mut().zip(key) {
                        column[j] = cache_factor(v);
                    }
                }
            });
        KeyBlocks {
            factors,
            first_block,
            blocks,
            head_dim,
        }
    }

    /// Element `d` of the keys of block `b` (absolute, at least `first_block`) of KV head
    /// `h`, for `d` in `0..head_dim`.
    fn block(&self, h: usize, b: usize) -> &[[f32; ATTENTION_BLOCK]] {
        let held = b - self.first_block;
        &self.factors[(h * self.blocks + held) * self.head_dim..][..self.head_dim]
    }
}

/// One KV head of the cache: its transposed key blocks, and value factors laid out
/// `[position][kv_head][head_dim]` from position `base` on.
#[derive(Clone, Copy)]
struct KvHead<'a> {
    keys: &'a KeyBlocks,
    values: &'a [f32],
    base: usize,
    kv_head: usize,
    n_kv_heads: usize,
    head_dim: usize,
}

impl KvHead<'_> {
    fn value(&self, position: usize) -> &[f32] {
        let row = self.n_kv_heads * self.head_dim;
        let index = (position - self.base) * row + self.kv_head * self.head_dim;
        &self.values[index..][..self.head_dim]
    }
}

/// Per-thread buffers of [`attend`], reused across the queries and heads a thread runs.
struct Scratch {
    qf: Vec<f32>,
    acc: Vec<f32>,
    /// A block's `sum_j p_j * v_j[d]` for every element `d`.
    values: Vec<f32>,
}

impl Scratch {
    fn new(head_dim: usize) -> Self {
        Scratch {
            qf: vec![0.0; head_dim],
            acc: vec![0.0; head_dim],
            values: vec![0.0; head_dim],
        }
    }
}

/// [`attend`] compiled per SIMD level, FMA in the clones that have it (same bits).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn attend_native(
    q: &[f32],
    scale: f32,
    visible: Range<usize>,
    kv: KvHead<'_>,
    scratch: &mut Scratch,
    out: &mut [f32],
) {
    match_target! {
        "x86_64+avx512f+fma" => attend::<Fused>(q, scale, visible, kv, scratch, out, |q, k, lanes| {
            avx512::scores(q, k, lanes)
        }),
        _ => if target_cfg_f!(target_feature = "fma") {
            attend::<Fused>(q, scale, visible, kv, scratch, out, score_lanes::<Fused>);
        } else {
            attend::<Unfused>(q, scale, visible, kv, scratch, out, score_lanes::<Unfused>);
        },
    }
}

/// Lane `l` of every key's dot product in `lanes[l]` (see [`attend`]), then the halving tree
/// over `l`: `lanes[0][j]` is key `j`'s score. `key_block[d][j]` is element `d` of key `j`.
#[inline(always)]
fn score_lanes<A: MulAdd>(
    qf: &[f32],
    key_block: &[[f32; ATTENTION_BLOCK]],
    lanes: &mut ScoreLanes,
) {
    // Element `d` enters lane `d % 32`, chunk by chunk.
    for (q_chunk, k_chunk) in qf.chunks(LANES).zip(key_block.chunks(LANES)) {
        for (lane, (&qd, column)) in lanes.iter_mut().zip(q_chunk.iter().zip(k_chunk)) {
            for j in 0..ATTENTION_BLOCK {
                lane[j] = A::mul_add(qd, column[j], lane[j]);
            }
        }
    }
    let mut width = LANES / 2;
    while width > 0 {
        let (low, high) = lanes.split_at_mut(width);
        for (l, h) in low.iter_mut().zip(high.iter()) {
            for j in 0..ATTENTION_BLOCK {
                l[j] += h[j];
            }
        }
        width /= 2;
    }
}

/// Lane `l` of the scores of a block's keys, `[lane][key]`.
type ScoreLanes = [[f32; ATTENTION_BLOCK]; LANES];

/// One query head against the keys `visible` (`first..position + 1`), written to `out`
/// (`head_dim` values).
///
/// The blocks stay at absolute positions: the first visited is the one holding `first`,
/// and in it the lanes before `first` are masked exactly like the lanes past the last key
/// (score -inf in the max, weight +0.0, value lane +0.0). That block always holds at least
/// one visible key, so its max is a visible score and the running max leaves -inf there,
/// just as block 0 does without a window.
///
/// Each loop runs across keys or across head elements, never along a reduction, so it
/// vectorises without changing any order: the score lanes `lanes[l][j]` hold lane `l` of key
/// `j`'s dot product, and the halving tree folds them row by row (`lanes[l] += lanes[l + w]`),
/// which for every key is exactly [`fold_sum`] of its 32 lanes; the value terms fold over
/// the keys `j` for many elements `d` at once ([`value_terms`]).
/// `score` fills the score lanes and folds them ([`score_lanes`], or its AVX-512 form).
#[inline(always)]
fn attend<A: MulAdd>(
    q: &[f32],
    scale: f32,
    visible: Range<usize>,
    kv: KvHead<'_>,
    scratch: &mut Scratch,
    out: &mut [f32],
    score: impl Fn(&[f32], &[[f32; ATTENTION_BLOCK]], &mut ScoreLanes),
) {
    let Scratch { qf, acc, values } = scratch;
    for (f, &v) in qf.iter_mut().zip(q) {
        *f = bf16_factor(ftz(v) * scale);
    }
    acc.fill(0.0);
    let mut running_max = f32::NEG_INFINITY;
    let mut running_sum = 0.0f32;
    let (first, end) = (visible.start, visible.end);
    let first_block_start = first - first % ATTENTION_BLOCK;
    for block_start in (first_block_start..end).step_by(ATTENTION_BLOCK) {
        // Lanes `hidden..keys` hold visible keys; `hidden` is nonzero in the first block only.
        let hidden = first.saturating_sub(block_start);
        let keys = (end - block_start).min(ATTENTION_BLOCK);
        let key_block = kv.keys.block(kv.kv_head, block_start / ATTENTION_BLOCK);
        let mut lanes = [[0.0f32; ATTENTION_BLOCK]; LANES];
        score(qf, key_block, &mut lanes);
        let mut scores = [f32::NEG_INFINITY; LANES];
        scores[hidden..keys].copy_from_slice(&lanes[0][hidden..keys]);
        let new_max = max_keep_first(running_max, fold_max(scores));
        let alpha = exp_with::<A>(running_max - new_max);
        let mut weights = [0.0f32; LANES];
        for (w, &s) in weights.iter_mut().zip(&scores) {
            *w = domain(exp_with::<A>(s - new_max));
        }
        // Masked lanes: scores of -inf give exp(-inf) = +0.0 already; written out so no
        // lane depends on that.
        weights[..hidden].fill(0.0);
        weights[keys..].fill(0.0);
        let visible_lanes = hidden..keys;
        value_terms::<A>(&kv, block_start, visible_lanes, &weights, values);
        running_sum = split_mul_add::<A>(running_sum, alpha, fold_sum(weights));
        for (a, &v) in acc.iter_mut().zip(values.iter()) {
            *a = split_mul_add::<A>(*a, alpha, v);
        }
        running_max = new_max;
    }
    let inv_sum = recip_with::<A>(running_sum);
    for (o, &a) in out.iter_mut().zip(acc.iter()) {
        *o = canonical(a * inv_sum);
    }
}

/// Elements of a head [`value_terms`] folds at once: one AVX-512 register of f32.
const VALUE_WIDTH: usize = 16;

/// `values[d]` = the canonical fold over the block's 32 key lanes of `p_j * v_j[d]`, where
/// lane `j` in `visible` holds key `block_start + j`'s one term onto +0.0 (`p_j` split so
/// each product with the bf16 value is exact) and every other lane +0.0 (never `0 * v`: a
/// NaN or infinite value would make that NaN).
///
/// [`VALUE_WIDTH`] elements at a time (one at a time past the last whole group), the
/// halving tree is taken depth first (lanes 0, 16, 8, 24, ...), so at most five partial
/// sums are live and no lane is ever stored: the lanes written out and folded in memory
/// were most of attention's time.
#[inline(always)]
fn value_terms<A: MulAdd>(
    kv: &KvHead<'_>,
    block_start: usize,
    visible: Range<usize>,
    weights: &[f32; LANES],
    values: &mut [f32],
) {
    let parts = weights.map(split);
    let whole = values.len() - values.len() % VALUE_WIDTH;
    let (groups, rest) = values.split_at_mut(whole);
    for (c, out) in groups.chunks_exact_mut(VALUE_WIDTH).enumerate() {
        let out: &mut [f32; VALUE_WIDTH] = out.try_into().expect("whole group");
        *out = value_group::<A, VALUE_WIDTH>(kv, block_start, &visible, &parts, c * VALUE_WIDTH);
    }
    for (d, out) in rest.iter_mut().enumerate() {
        [*out] = value_group::<A, 1>(kv, block_start, &visible, &parts, whole + d);
    }
}

/// [`value_terms`] for the `W` elements from `first` on.
#[inline(always)]
fn value_group<A: MulAdd, const W: usize>(
    kv: &KvHead<'_>,
    block_start: usize,
    visible: &Range<usize>,
    parts: &[(f32, f32); LANES],
    first: usize,
) -> [f32; W] {
    const { assert!(LANES == 32, "the tree below is spelled for 32 lanes") };
    let lanes = ValueLanes::<A, W> {
        kv,
        block_start,
        visible,
        parts,
        first,
        evaluation: std::marker::PhantomData,
    };
    lanes.sum(lanes.by_2(0), lanes.by_2(1))
}

/// The lanes of [`value_group`], and the levels of the halving tree over them: level `w`
/// adds lane `l + w` to lane `l`, for w = 16, 8, 4, 2, 1. Methods, not closures: a closure
/// left outlined is compiled without the caller's SIMD features.
struct ValueLanes<'a, A, const W: usize> {
    kv: &'a KvHead<'a>,
    block_start: usize,
    visible: &'a Range<usize>,
    parts: &'a [(f32, f32); LANES],
    first: usize,
    evaluation: std::marker::PhantomData<A>,
}

impl<A: MulAdd, const W: usize> ValueLanes<'_, A, W> {
    #[inline(always)]
    fn lane(&self, j: usize) -> [f32; W] {
        let mut terms = [0.0f32; W];
        if self.visible.contains(&j) {
            let (head, tail) = self.parts[j];
            let v = &self.kv.value(self.block_start + j)[self.first..][..W];
            for (t, &v) in terms.iter_mut().zip(v) {
                *t = A::mul_add(tail, v, A::mul_add(head, v, 0.0));
            }
        }
        terms
    }

    #[inline(always)]
    fn sum(&self, mut a: [f32; W], b: [f32; W]) -> [f32; W] {
        for (a, b) in a.iter_mut().zip(b) {
            *a += b;
        }
        a
    }

    #[inline(always)]
    fn by_16(&self, l: usize) -> [f32; W] {
        self.sum(self.lane(l), self.lane(l + 16))
    }

    #[inline(always)]
    fn by_8(&self, l: usize) -> [f32; W] {
        self.sum(self.by_16(l), self.by_16(l + 8))
    }

    #[inline(always)]
    fn by_4(&self, l: usize) -> [f32; W] {
        self.sum(self.by_8(l), self.by_8(l + 4))
    }

    #[inline(always)]
    fn by_2(&self, l: usize) -> [f32; W] {
        self.sum(self.by_4(l), self.by_4(l + 2))
    }
}
