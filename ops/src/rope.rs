//! Rotary position embedding: host-computed cos/sin tables and their application.
//!
//! The table is computed once on the host in f64 with the `libm` crate and rounded to f32
//! (DETERMINISM.md §6); every backend uploads the same bytes. Applying it rotates each pair
//! `(a, b)` of a head vector by the angle of its position: `a' = a*cos - b*sin`,
//! `b' = b*cos + a*sin`, each a [`two_prod_sum`] of split factors.

use multiversion::multiversion;
use multiversion::target::target_cfg_f;
use rayon::prelude::*;

use crate::arith::{Fused, MulAdd, Unfused};
use crate::canonical::canonical;
use crate::error::{
    OpsError, check_at_most, check_len, check_nonzero, check_positions, shape_product, whole_rows,
};
use crate::exact_product::two_prod_sum;
use crate::tasks::rows_per_task;

/// Which elements of a head vector form a rotated pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeLayout {
    /// Pair `i` is `(x[i], x[i + d/2])`: Llama and Qwen checkpoints in HF format.
    RotateHalf,
    /// Pair `i` is `(x[2i], x[2i + 1])`: the original RoPE and GGUF-native layouts.
    Interleaved,
}

/// cos and sin of `position * inv_freq[i]` for every position below `max_positions` and
/// every frequency, row-major by position: entry `p * pairs + i`.
#[derive(Debug, Clone, PartialEq)]
pub struct RopeTable {
    pairs: usize,
    max_positions: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

/// The standard inverse frequencies `base^(-2i/head_dim)` for `i < head_dim/2`, computed in
/// f64 with `libm::pow` and rounded to f32. Scaled variants (llama3, per-layer bases) pass
/// their own frequencies to [`RopeTable::new`] instead.
pub fn inv_freq_from_base(base: f64, head_dim: usize) -> Result<Vec<f32>, OpsError> {
    const OP: &str = "inv_freq_from_base";
    check_nonzero(OP, "head_dim", head_dim)?;
    whole_rows(OP, "head_dim", head_dim, 2)?;
    if !(base.is_finite() && base > 1.0) {
        return Err(OpsError::InvalidParam {
            op: OP,
            param: "base",
            value: base,
            reason: "must be finite and > 1",
        });
    }
    Ok((0..head_dim / 2)
        .map(|i| libm::pow(base, -((2 * i) as f64) / head_dim as f64) as f32)
        .collect())
}

impl RopeTable {
    /// The table for `max_positions` positions and the given inverse frequencies (one per
    /// rotated pair, so `head_dim / 2` of them). The angle `p * inv_freq[i]` is formed in
    /// f64 (exact: 24-bit frequency times a position below 2^29), then `libm::cos`/`sin`.
    pub fn new(inv_freq: &[f32], max_positions: usize) -> Result<Self, OpsError> {
        const OP: &str = "RopeTable::new";
        check_nonzero(OP, "inv_freq", inv_freq.len())?;
        check_nonzero(OP, "max_positions", max_positions)?;
        // Positions below 2^29 keep `p * inv_freq` exact in f64 (29 + 24 bits).
        check_at_most(OP, "max_positions", max_positions, 1 << 29)?;
        if let Some((index, &value)) = inv_freq.iter().enumerate().find(|(_, f)| !f.is_finite()) {
            return Err(OpsError::NonFinite {
                op: OP,
                what: "inv_freq",
                index,
                value,
            });
        }
        let pairs = inv_freq.len();
        // A table is uploaded whole to every backend: cap it at 2^28 entries (1 GiB of f32
        // per table) so a wrong max_positions fails here, not in the allocator.
        let entries = shape_product(OP, "pairs x max_positions", &[pairs, max_positions])?;
        check_at_most(OP, "pairs x max_positions", entries, 1 << 28)?;
        let mut cos = Vec::with_capacity(pairs * max_positions);
        let mut sin = Vec::with_capacity(pairs * max_positions);
        for p in 0..max_positions {
            for &f in inv_freq {
                let angle = p as f64 * f as f64;
                cos.push(canonical(libm::cos(angle) as f32));
                sin.push(canonical(libm::sin(angle) as f32));
            }
        }
        Ok(RopeTable {
            pairs,
            max_positions,
            cos,
            sin,
        })
    }

    /// Rotated pairs per head (`head_dim / 2`).
    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// Number of positions the table covers.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// All cosines, entry `p * pairs + i`: the bytes a backend uploads.
    pub fn cos(&self) -> &[f32] {
        &self.cos
    }

    /// All sines, same layout as [`RopeTable::cos`].
    pub fn sin(&self) -> &[f32] {
        &self.sin
    }
}

/// RoPE with the fastest evaluation this CPU has (vectorised, FMA where available, tokens
/// in parallel); the bits are those of [`rope_apply_with`] under any [`MulAdd`].
pub fn rope_apply(
    table: &RopeTable,
    layout: RopeLayout,
    positions: &[u32],
    x: &mut [f32],
    n_heads: usize,
) -> Result<(), OpsError> {
    rotate_tokens(table, layout, positions, x, n_heads, token_native)
}

/// Rotates, in place, every head of every token of `x` (`positions.len()` tokens of
/// `n_heads * 2 * table.pairs()` values) by the angles of that token's position.
pub fn rope_apply_with<A: MulAdd>(
    table: &RopeTable,
    layout: RopeLayout,
    positions: &[u32],
    x: &mut [f32],
    n_heads: usize,
) -> Result<(), OpsError> {
    rotate_tokens(table, layout, positions, x, n_heads, token::<A>)
}

/// The checks, then `rotate(token, cos, sin, head_dim, pair)` for every token, in
/// parallel, with `pair` the offsets of a rotated pair's second element and of the next
/// pair's first.
fn rotate_tokens(
    table: &RopeTable,
    layout: RopeLayout,
    positions: &[u32],
    x: &mut [f32],
    n_heads: usize,
    rotate: impl Fn(&mut [f32], &[f32], &[f32], usize, (usize, usize)) + Sync,
) -> Result<(), OpsError> {
    const OP: &str = "rope_apply";
    check_nonzero(OP, "positions", positions.len())?;
    check_nonzero(OP, "n_heads", n_heads)?;
    let head_dim = 2 * table.pairs;
    let x_len = shape_product(
        OP,
        "x (positions x n_heads x head_dim)",
        &[positions.len(), n_heads, head_dim],
    )?;
    check_len(OP, "x", x_len, x.len())?;
    check_positions(OP, "position", positions, table.max_positions)?;
    // RotateHalf pairs (i, i + d/2); Interleaved pairs (2i, 2i + 1).
    let pair = match layout {
        RopeLayout::RotateHalf => (table.pairs, 1),
        RopeLayout::Interleaved => (1, 2),
    };
    let token_len = n_heads * head_dim;
    let tokens = x.par_chunks_exact_mut(token_len).zip(positions);
    tokens
        .with_min_len(rows_per_task(token_len))
        .for_each(|(x, &p)| {
            let cos = &table.cos[p as usize * table.pairs..][..table.pairs];
            let sin = &table.sin[p as usize * table.pairs..][..table.pairs];
            rotate(x, cos, sin, head_dim, pair);
        });
    Ok(())
}

/// [`token`] compiled per SIMD level, FMA in the clones that have it (same bits).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn token_native(x: &mut [f32], cos: &[f32], sin: &[f32], head_dim: usize, pair: (usize, usize)) {
    if target_cfg_f!(target_feature = "fma") {
        token::<Fused>(x, cos, sin, head_dim, pair);
    } else {
        token::<Unfused>(x, cos, sin, head_dim, pair);
    }
}

/// Every head of one token `x` rotated by its position's `cos` and `sin`.
#[inline(always)]
fn token<A: MulAdd>(
    x: &mut [f32],
    cos: &[f32],
    sin: &[f32],
    head_dim: usize,
    (first, stride): (usize, usize),
) {
    for head in x.chunks_exact_mut(head_dim) {
        for (i, (&c, &s)) in cos.iter().zip(sin).enumerate() {
            let (ia, ib) = (i * stride, i * stride + first);
            let (a, b) = (head[ia], head[ib]);
            head[ia] = canonical(two_prod_sum::<A>(a, c, -b, s));
            head[ib] = canonical(two_prod_sum::<A>(b, c, a, s));
        }
    }
}
