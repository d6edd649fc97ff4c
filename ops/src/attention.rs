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
            attend::<A>(q, scale, visible, kv, scratch, out, plain_block::<A>())
        },
    )
}

/// Checks the shapes, prepares the factors of the cache's visible blocks once, and runs
/// `kernel` (an [`attend`]) for every query and KV head in parallel: the query heads that
/// share a KV head go together, so each block of keys and values is read once for all of
/// them (`benches/attention_glu.rs` times a Gemma 3 270M layer's).
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
    // The factors' buffers are this thread's from the last call: every element is written
    // again, so nothing has to be zeroed (zeroing them was 5% of a decode step).
    let [k_buffer, v_buffer] = FACTOR_BUFFERS.take();
    let keys = CacheBlocks::new(kv.k, cached, first_block, n_kv_heads, head_dim, k_buffer);
    let values = CacheBlocks::new(kv.v, cached, first_block, n_kv_heads, head_dim, v_buffer);
    // A decode step's one query has as few groups as KV heads: then its heads go one by
    // one, so that every thread has a share.
    let heads = if positions.len() * n_kv_heads >= rayon::current_num_threads() {
        group
    } else {
        1
    };
    out.par_chunks_mut(heads * head_dim)
        .zip(q.par_chunks(heads * head_dim))
        .enumerate()
        .for_each_init(
            || Scratch::new(head_dim, heads),
            |scratch, (task, (o, q_heads))| {
                let (t, h) = (task * heads / n_heads, task * heads % n_heads);
                let head = KvHead {
                    keys: &keys,
                    values: &values,
                    kv_head: h / group,
                };
                let position = positions[t] as usize;
                let visible = config.first_key(position)..position + 1;
                kernel(q_heads, scale, visible, head, scratch, o);
            },
        );
    FACTOR_BUFFERS.set([keys.factors, values.factors]);
    Ok(())
}

/// The factor a cached bf16 element contributes to a product.
#[inline(always)]
fn cache_factor(v: bf16) -> f32 {
    widen_bf16(domain_bf16(v.to_bits()))
}

/// The keys or the values as factors, once per call instead of once per query and head,
/// transposed block by block: for KV head `h`, block `b`, element `d`, the
/// [`ATTENTION_BLOCK`] positions of the block side by side (positions past the cache hold
/// +0.0 and are never read). A block's scores then advance together, one vector operation
/// per head element, instead of one dot product per key; its value terms for element `d`
/// are one contiguous row of lanes (read key by key, the values' rows were most of a
/// prefill's attention time). Only the blocks from `first_block` on are held.
struct CacheBlocks {
    factors: Vec<[f32; ATTENTION_BLOCK]>,
    first_block: usize,
    blocks: usize,
    head_dim: usize,
}

thread_local! {
    /// The buffers of the last [`CacheBlocks`] this thread made, keys' and values'.
    static FACTOR_BUFFERS: std::cell::Cell<[Vec<[f32; ATTENTION_BLOCK]>; 2]> =
        const { std::cell::Cell::new([Vec::new(), Vec::new()]) };
}

impl CacheBlocks {
    /// The blocks of `k` (keys or values) from `first_block` on, made in `factors` (a
    /// buffer to reuse: its contents are overwritten).
    fn new(
        k: &[bf16],
        cached: usize,
        first_block: usize,
        n_kv_heads: usize,
        head_dim: usize,
        mut factors: Vec<[f32; ATTENTION_BLOCK]>,
    ) -> Self {
        let blocks = cached.div_ceil(ATTENTION_BLOCK) - first_block;
        let row = n_kv_heads * head_dim;
        factors.resize(n_kv_heads * blocks * head_dim, [0.0; ATTENTION_BLOCK]);
        // One task per (KV head, block), in parallel: a decode step rebuilds this for the
        // whole cache in every layer.
        factors
            .par_chunks_mut(head_dim)
            .enumerate()
            .for_each(|(i, block)| {
                let (h, b) = (i / blocks, first_block + i % blocks);
                let first = b * ATTENTION_BLOCK;
                let positions = cached.min(first + ATTENTION_BLOCK) - first;
                let position = |j: usize| &k[(first + j) * row + h * head_dim..][..head_dim];
                fill_block(positions, &position, block);
            });
        CacheBlocks {
            factors,
            first_block,
            blocks,
            head_dim,
        }
    }

    /// Element `d` of the positions of block `b` (absolute, at least `first_block`) of KV
    /// head `h`, for `d` in `0..head_dim`.
    fn block(&self, h: usize, b: usize) -> &[[f32; ATTENTION_BLOCK]] {
        let held = b - self.first_block;
        &self.factors[(h * self.blocks + held) * self.head_dim..][..self.head_dim]
    }
}

/// Column `j < positions` of `block` (`block[d][j]`) set to the factors of `position(j)`'s
/// `head_dim` elements, the other columns to +0.0.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn fill_block<'a>(
    positions: usize,
    position: &dyn Fn(usize) -> &'a [bf16],
    block: &mut [[f32; ATTENTION_BLOCK]],
) {
    if positions < ATTENTION_BLOCK {
        for column in block.iter_mut() {
            column[positions..].fill(0.0);
        }
    }
    match_target! {
        "x86_64+avx512f" => avx512::fill_block(positions, position, block),
        _ => fill_columns(0..positions, position, block, 0..block.len()),
    }
}

/// Columns `columns` of `block`, rows `elements`, one element at a time: the plain spelling
/// of [`fill_block`].
#[inline(always)]
fn fill_columns<'a>(
    columns: Range<usize>,
    position: &dyn Fn(usize) -> &'a [bf16],
    block: &mut [[f32; ATTENTION_BLOCK]],
    elements: Range<usize>,
) {
    for j in columns {
        let row = position(j);
        for d in elements.clone() {
            block[d][j] = cache_factor(row[d]);
        }
    }
}

/// One KV head of the cache: its transposed key and value blocks.
#[derive(Clone, Copy)]
struct KvHead<'a> {
    keys: &'a CacheBlocks,
    values: &'a CacheBlocks,
    kv_head: usize,
}

/// Per-thread buffers of [`attend`], reused across the queries a thread runs: each holds
/// every head of a group, head after head.
struct Scratch {
    qf: Vec<f32>,
    acc: Vec<f32>,
    /// A block's `sum_j p_j * v_j[d]` for every element `d`.
    values: Vec<f32>,
    /// A block's score lanes, written whole by every `BlockMath::score` (a fresh zeroed
    /// 4 KiB array for each block cost a memset per block).
    lanes: Vec<ScoreLanes>,
    /// A block's weights `p_j`, split into heads and tails.
    parts: Vec<WeightParts>,
    /// Each head's online softmax.
    online: Vec<Online>,
}

impl Scratch {
    fn new(head_dim: usize, group: usize) -> Self {
        Scratch {
            qf: vec![0.0; group * head_dim],
            acc: vec![0.0; group * head_dim],
            values: vec![0.0; group * head_dim],
            lanes: vec![[[0.0; ATTENTION_BLOCK]; LANES]; group],
            parts: vec![[[0.0; LANES]; 2]; group],
            online: vec![Online::START; group],
        }
    }
}

/// One head's online softmax: the running max and sum of the blocks so far, and the
/// current block's rescale `alpha`.
#[derive(Clone, Copy)]
struct Online {
    max: f32,
    sum: f32,
    alpha: f32,
}

impl Online {
    const START: Online = Online {
        max: f32::NEG_INFINITY,
        sum: 0.0,
        alpha: 0.0,
    };
}

/// A block's weights `p_j` [`split`] into heads (`[0][j]`) and tails (`[1][j]`).
type WeightParts = [[f32; LANES]; 2];

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
        "x86_64+avx512f+fma" => attend::<Fused>(
            q,
            scale,
            visible,
            kv,
            scratch,
            out,
            BlockMath {
                score: |q: &[f32], k: &[[f32; ATTENTION_BLOCK]], lanes: &mut [ScoreLanes]| {
                    avx512::scores(q, k, lanes)
                },
                value: |v: &[[f32; ATTENTION_BLOCK]],
                        visible: Range<usize>,
                        parts: &[WeightParts],
                        out: &mut [f32]| {
                    avx512::value_terms(v, visible, parts, out)
                },
            },
        ),
        _ => if target_cfg_f!(target_feature = "fma") {
            attend::<Fused>(q, scale, visible, kv, scratch, out, plain_block::<Fused>());
        } else {
            attend::<Unfused>(q, scale, visible, kv, scratch, out, plain_block::<Unfused>());
        },
    }
}

/// For each head of the group (`qf` holds their factors, head after head), lane `l` of
/// every key's dot product in `lanes[h][l]` (see [`attend`]), then the halving tree over
/// `l`: `lanes[h][0][j]` is key `j`'s score. `key_block[d][j]` is element `d` of key `j`.
#[inline(always)]
fn score_lanes<A: MulAdd>(
    qf: &[f32],
    key_block: &[[f32; ATTENTION_BLOCK]],
    lanes: &mut [ScoreLanes],
) {
    for (qf, lanes) in qf.chunks_exact(key_block.len()).zip(lanes) {
        // Element `d` enters lane `d % 32`, chunk by chunk, onto +0.0.
        *lanes = [[0.0; ATTENTION_BLOCK]; LANES];
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
}

/// How a block's scores ([`score_lanes`]) and value terms ([`value_terms`]) are computed
/// for a group of heads: plainly, or in the SIMD forms of this CPU (same bits).
struct BlockMath<S, V> {
    score: S,
    value: V,
}

/// A block's scores, as [`score_lanes`] spells them.
type ScoreFn = fn(&[f32], &[[f32; ATTENTION_BLOCK]], &mut [ScoreLanes]);
/// A block's value terms, as [`value_terms`] spells them.
type ValueFn = fn(&[[f32; ATTENTION_BLOCK]], Range<usize>, &[WeightParts], &mut [f32]);

/// The plain spellings, under the evaluation `A`.
#[inline(always)]
fn plain_block<A: MulAdd>() -> BlockMath<ScoreFn, ValueFn> {
    BlockMath {
        score: score_lanes::<A>,
        value: value_terms::<A>,
    }
}

/// Lane `l` of the scores of a block's keys, `[lane][key]`.
type ScoreLanes = [[f32; ATTENTION_BLOCK]; LANES];

/// The query heads `q` (`head_dim` values each) that share one KV head, against the keys
/// `visible` (`first..position + 1`), written to `out` (as `q`). Each head's result is
/// what it would be alone: the heads only share the reads of each block.
///
/// The blocks stay at absolute positions: the first visited is the one holding `first`,
/// and in it the lanes before `first` are masked exactly like the lanes past the last key
/// (score -inf in the max, weight +0.0, value lane +0.0). That block always holds at least
/// one visible key, so its max is a visible score and the running max leaves -inf there,
/// just as block 0 does without a window.
///
/// `block.score` fills the score lanes `lanes[h][l][j]` (lane `l` of key `j`'s dot product
/// with head `h`) and folds them row by row (`lanes[l] += lanes[l + w]`), which for every
/// key is exactly [`fold_sum`] of its 32 lanes; `block.value` folds the value terms over
/// the keys `j` for every element `d` ([`value_terms`]). Each loop runs across keys or
/// across head elements, never along a reduction, so it vectorises without changing any
/// order.
#[inline(always)]
fn attend<A: MulAdd>(
    q: &[f32],
    scale: f32,
    visible: Range<usize>,
    kv: KvHead<'_>,
    scratch: &mut Scratch,
    out: &mut [f32],
    block: BlockMath<
        impl Fn(&[f32], &[[f32; ATTENTION_BLOCK]], &mut [ScoreLanes]),
        impl Fn(&[[f32; ATTENTION_BLOCK]], Range<usize>, &[WeightParts], &mut [f32]),
    >,
) {
    let Scratch {
        qf,
        acc,
        values,
        lanes,
        parts,
        online,
    } = scratch;
    let head_dim = q.len() / online.len();
    for (f, &v) in qf.iter_mut().zip(q) {
        *f = bf16_factor(ftz(v) * scale);
    }
    acc.fill(0.0);
    online.fill(Online::START);
    let (first, end) = (visible.start, visible.end);
    let first_block_start = first - first % ATTENTION_BLOCK;
    for block_start in (first_block_start..end).step_by(ATTENTION_BLOCK) {
        // Lanes `hidden..keys` hold visible keys; `hidden` is nonzero in the first block only.
        let hidden = first.saturating_sub(block_start);
        let keys = (end - block_start).min(ATTENTION_BLOCK);
        let key_block = kv.keys.block(kv.kv_head, block_start / ATTENTION_BLOCK);
        (block.score)(qf, key_block, lanes);
        for ((lanes, parts), head) in lanes.iter().zip(parts.iter_mut()).zip(online.iter_mut()) {
            let mut scores = [f32::NEG_INFINITY; LANES];
            scores[hidden..keys].copy_from_slice(&lanes[0][hidden..keys]);
            let new_max = max_keep_first(head.max, fold_max(scores));
            head.alpha = exp_with::<A>(head.max - new_max);
            head.max = new_max;
            let mut weights = [0.0f32; LANES];
            for (w, &s) in weights.iter_mut().zip(&scores) {
                *w = domain(exp_with::<A>(s - new_max));
            }
            // Masked lanes: scores of -inf give exp(-inf) = +0.0 already; written out so no
            // lane depends on that.
            weights[..hidden].fill(0.0);
            weights[keys..].fill(0.0);
            head.sum = split_mul_add::<A>(head.sum, head.alpha, fold_sum(weights));
            *parts = split_weights(&weights);
        }
        let value_block = kv.values.block(kv.kv_head, block_start / ATTENTION_BLOCK);
        (block.value)(value_block, hidden..keys, parts, values);
        for ((acc, values), head) in acc
            .chunks_exact_mut(head_dim)
            .zip(values.chunks_exact(head_dim))
            .zip(online.iter())
        {
            for (a, &v) in acc.iter_mut().zip(values) {
                *a = split_mul_add::<A>(*a, head.alpha, v);
            }
        }
    }
    for ((out, acc), head) in out
        .chunks_exact_mut(head_dim)
        .zip(acc.chunks_exact(head_dim))
        .zip(online.iter())
    {
        let inv_sum = recip_with::<A>(head.sum);
        for (o, &a) in out.iter_mut().zip(acc) {
            *o = canonical(a * inv_sum);
        }
    }
}

/// For each head of the group, `values[d]` (head after head) = the canonical fold over the
/// block's 32 lanes of `p_j * v_j[d]` (`value_block[d][j]` is `v_j[d]`, `parts` the head's
/// weights split): lane `j` in `visible` holds its one term onto +0.0 (`p_j` split so each
/// product with the bf16 value is exact), every other lane +0.0 (never `0 * v`: a NaN or
/// infinite value would make that NaN).
#[inline(always)]
fn value_terms<A: MulAdd>(
    value_block: &[[f32; ATTENTION_BLOCK]],
    visible: Range<usize>,
    parts: &[WeightParts],
    values: &mut [f32],
) {
    for (values, parts) in values.chunks_exact_mut(value_block.len()).zip(parts) {
        for (value, column) in values.iter_mut().zip(value_block) {
            *value = value_term::<A>(column, visible.clone(), parts);
        }
    }
}

/// Every weight of a block [`split`] into head and tail. A loop: as an array `map` it
/// stayed a call per block in the SIMD clones.
#[inline(always)]
fn split_weights(weights: &[f32; LANES]) -> WeightParts {
    let mut parts = [[0.0; LANES]; 2];
    for (j, &w) in weights.iter().enumerate() {
        (parts[0][j], parts[1][j]) = split(w);
    }
    parts
}

/// One element's [`value_terms`].
#[inline(always)]
fn value_term<A: MulAdd>(
    column: &[f32; ATTENTION_BLOCK],
    visible: Range<usize>,
    parts: &WeightParts,
) -> f32 {
    let mut terms = [0.0f32; LANES];
    for j in visible {
        let (head, tail, v) = (parts[0][j], parts[1][j], column[j]);
        terms[j] = A::mul_add(tail, v, A::mul_add(head, v, 0.0));
    }
    fold_sum(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bf16 of every kind the factor domain treats apart: ordinary values, magnitudes
    /// below 2^-40 and from 2^64 up, infinities, NaN, signed zeros.
    fn bits(i: usize) -> bf16 {
        const SPECIAL: [u16; 8] = [
            0x0000, 0x8000, 0x2B7F, 0xAB80, 0x5F80, 0x7F80, 0xFFC1, 0x5F7F,
        ];
        let h = (i as u32).wrapping_mul(2_654_435_761) >> 16;
        bf16::from_bits(if h.is_multiple_of(5) {
            SPECIAL[(h / 5) as usize % 8]
        } else {
            h as u16
        })
    }

    /// The fastest fill this CPU has gives the bits of the plain one, for every count of
    /// positions in a block and head sizes with and without a part past the last sixteen.
    #[test]
    fn fill_block_equals_the_plain_fill_for_every_position_count_and_head_size() {
        for head_dim in [1, 16, 40, 256] {
            let rows: Vec<Vec<bf16>> = (0..ATTENTION_BLOCK)
                .map(|j| (0..head_dim).map(|d| bits(j * 1000 + d)).collect())
                .collect();
            let position = |j: usize| rows[j].as_slice();
            for positions in 1..=ATTENTION_BLOCK {
                // Whatever a reused buffer held is overwritten.
                let mut fast = vec![[f32::NAN; ATTENTION_BLOCK]; head_dim];
                let mut plain = vec![[0.0f32; ATTENTION_BLOCK]; head_dim];
                fill_block(positions, &position, &mut fast);
                fill_columns(0..positions, &position, &mut plain, 0..head_dim);
                let as_bits = |b: &[[f32; ATTENTION_BLOCK]]| -> Vec<u32> {
                    b.iter().flatten().map(|v| v.to_bits()).collect()
                };
                assert_eq!(
                    as_bits(&fast),
                    as_bits(&plain),
                    "{positions} positions, head_dim {head_dim}"
                );
            }
        }
    }
}
