//! Causal grouped-query attention over a bf16 KV cache, one function for prefill and decode.
//!
//! A query at absolute position `p` attends to the cached keys `0..=p`, visited in blocks of
//! [`ATTENTION_BLOCK`] keys at fixed absolute positions (`0..32`, `32..64`, ...; the last
//! block cut at `p`) and combined in block order with an online softmax (DETERMINISM.md
//! §7). Its result therefore depends on its position and those keys only: never on which
//! other queries share the call, how a prompt was chunked, or the thread count.

use half::bf16;
use rayon::prelude::*;

use crate::arith::{MulAdd, Unfused};
use crate::canonical::{canonical, ftz};
use crate::error::{
    OpsError, check_len, check_nonzero, check_positions, shape_product, whole_rows,
};
use crate::exact_product::{domain, split, split_mul_add};
use crate::half_float::{bf16_factor, domain_bf16, widen_bf16};
use crate::math::{exp_with, recip_with};
use crate::reduce::{LANES, fold_max, fold_sum, lane_sum, max_keep_first};

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
}

/// A KV cache as attention reads it: K (after RoPE) and V in bf16, both laid out
/// `[position][kv_head][head_dim]`, holding the positions `0..k.len() / (n_kv_heads * head_dim)`.
#[derive(Debug, Clone, Copy)]
pub struct KvView<'a> {
    /// Keys.
    pub k: &'a [bf16],
    /// Values.
    pub v: &'a [bf16],
}

/// Attention with the default (unfused) evaluation; see [`attention_with`].
pub fn attention(
    config: &AttentionConfig,
    q: &[f32],
    positions: &[u32],
    kv: KvView<'_>,
    out: &mut [f32],
) -> Result<(), OpsError> {
    attention_with::<Unfused>(config, q, positions, kv, out)
}

/// Attention for `positions.len()` queries, `q` and `out` laid out
/// `[query][head][head_dim]`; query `t` sits at absolute position `positions[t]`, which
/// must be inside the cache.
///
/// Per query and head: `qf = bf16_factor(q * scale)`; per block, scores
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
    const OP: &str = "attention";
    let AttentionConfig {
        n_heads,
        n_kv_heads,
        head_dim,
        scale,
    } = *config;
    check_nonzero(OP, "n_heads", n_heads)?;
    check_nonzero(OP, "n_kv_heads", n_kv_heads)?;
    check_nonzero(OP, "head_dim", head_dim)?;
    if !n_heads.is_multiple_of(n_kv_heads) {
        return Err(OpsError::NotDivisible {
            op: OP,
            what: "n_heads by n_kv_heads",
            numerator: n_heads,
            denominator: n_kv_heads,
        });
    }
    if !scale.is_finite() {
        return Err(OpsError::InvalidParam {
            op: OP,
            param: "scale",
            value: scale as f64,
            reason: "must be finite",
        });
    }
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
    out.par_chunks_mut(head_dim)
        .zip(q.par_chunks(head_dim))
        .enumerate()
        .for_each(|(query_head, (o, q_head))| {
            let (t, h) = (query_head / n_heads, query_head % n_heads);
            let head = KvHead {
                k: kv.k,
                v: kv.v,
                row: kv_row,
                offset: (h / group) * head_dim,
                head_dim,
            };
            attend::<A>(q_head, scale, positions[t] as usize, head, o);
        });
    Ok(())
}

/// One KV head of the cache: position `p`, element `d` is at `p * row + offset + d`.
#[derive(Clone, Copy)]
struct KvHead<'a> {
    k: &'a [bf16],
    v: &'a [bf16],
    row: usize,
    offset: usize,
    head_dim: usize,
}

impl KvHead<'_> {
    fn key(&self, position: usize) -> &[bf16] {
        &self.k[position * self.row + self.offset..][..self.head_dim]
    }

    fn value(&self, position: usize) -> &[bf16] {
        &self.v[position * self.row + self.offset..][..self.head_dim]
    }
}

/// The factor a cached bf16 element contributes to a product.
fn cache_factor(v: bf16) -> f32 {
    widen_bf16(domain_bf16(v.to_bits()))
}

/// One query head against keys `0..=position`, written to `out` (`head_dim` values).
fn attend<A: MulAdd>(q: &[f32], scale: f32, position: usize, kv: KvHead<'_>, out: &mut [f32]) {
    let head_dim = kv.head_dim;
    let qf: Vec<f32> = q.iter().map(|&v| bf16_factor(ftz(v) * scale)).collect();
    let mut running_max = f32::NEG_INFINITY;
    let mut running_sum = 0.0f32;
    let mut acc = vec![0.0f32; head_dim];
    let mut value_lanes = vec![[0.0f32; LANES]; head_dim];
    for block_start in (0..=position).step_by(ATTENTION_BLOCK) {
        let keys = (position + 1 - block_start).min(ATTENTION_BLOCK);
        let mut scores = [f32::NEG_INFINITY; LANES];
        for (j, score) in scores.iter_mut().enumerate().take(keys) {
            let key = kv.key(block_start + j);
            *score = lane_sum(head_dim, |d, acc| {
                A::mul_add(qf[d], cache_factor(key[d]), acc)
            });
        }
        let new_max = max_keep_first(running_max, fold_max(scores));
        let alpha = exp_with::<A>(running_max - new_max);
        let mut weights = [0.0f32; LANES];
        for (w, &s) in weights.iter_mut().zip(&scores).take(keys) {
            *w = domain(exp_with::<A>(s - new_max));
        }
        for lanes in value_lanes.iter_mut() {
            *lanes = [0.0; LANES];
        }
        for (j, &w) in weights.iter().enumerate().take(keys) {
            let (w_head, w_tail) = split(w);
            for (lanes, &v) in value_lanes.iter_mut().zip(kv.value(block_start + j)) {
                let v = cache_factor(v);
                lanes[j] = A::mul_add(w_tail, v, A::mul_add(w_head, v, lanes[j]));
            }
        }
        running_sum = split_mul_add::<A>(running_sum, alpha, fold_sum(weights));
        for (a, lanes) in acc.iter_mut().zip(&value_lanes) {
            *a = split_mul_add::<A>(*a, alpha, fold_sum(*lanes));
        }
        running_max = new_max;
    }
    let inv_sum = recip_with::<A>(running_sum);
    for (o, &a) in out.iter_mut().zip(&acc) {
        *o = canonical(a * inv_sum);
    }
}
