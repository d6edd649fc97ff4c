//! RMSNorm: `y = x * rsqrt(mean(x^2) + eps) * weight`, one row at a time (rows in
//! parallel).

use multiversion::multiversion;
use multiversion::target::target_cfg_f;
use rayon::prelude::*;

use crate::arith::{Fused, MulAdd, Unfused};
use crate::canonical::{canonical, ftz};
use crate::error::{OpsError, check_at_most, check_len, check_nonzero, whole_rows};
use crate::exact_product::{domain, split, split_mul_add};
use crate::math::{recip_with, rsqrt_with};
use crate::reduce::lane_sum;
use crate::tasks::rows_per_task;

/// Rows longer than this would make `n` inexact as an f32 (and `1/n` with it).
const MAX_DIM: usize = 1 << 24;

/// How the stored norm weight scales the normalised value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormWeight {
    /// `y = x_hat * w` (Llama, Qwen).
    Scale,
    /// `y = x_hat * (1 + w)` (Gemma stores the offset from one).
    OnePlus,
}

/// Parameters of [`rms_norm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsNormParams {
    /// Added to the mean square before the reciprocal square root. Finite and >= 0; values
    /// below 2^-40 act as zero (the factor domain, DETERMINISM.md §3).
    pub eps: f32,
    /// How `weight` enters.
    pub weight: NormWeight,
}

/// RMSNorm with the fastest evaluation this CPU has (vectorised, FMA where available, rows
/// in parallel); the bits are those of [`rms_norm_with`] under any [`MulAdd`].
pub fn rms_norm(
    x: &[f32],
    weight: &[f32],
    params: RmsNormParams,
    out: &mut [f32],
) -> Result<(), OpsError> {
    norm_rows(x, weight, params, out, row_native)
}

/// RMSNorm over each row of `x` (`x.len() / weight.len()` rows of `weight.len()` values).
///
/// Per row: `ss` is the canonical lane sum where element `i` adds `xh*xh`, `(2xh)*xt`,
/// `xt*xt` to its lane (`x = xh + xt`, [`split`]); `ms = ss * (1/n) + eps` by
/// [`split_mul_add`]; `inv = rsqrt(ms)`; `y = canonical(ftz(x * inv) * w)`.
pub fn rms_norm_with<A: MulAdd>(
    x: &[f32],
    weight: &[f32],
    params: RmsNormParams,
    out: &mut [f32],
) -> Result<(), OpsError> {
    norm_rows(x, weight, params, out, row::<A>)
}

/// The checks, then `row(x_row, scales, 1/n, eps, out_row)` for every row, in parallel.
fn norm_rows(
    x: &[f32],
    weight: &[f32],
    params: RmsNormParams,
    out: &mut [f32],
    row: impl Fn(&[f32], &[f32], f32, f32, &mut [f32]) + Sync,
) -> Result<(), OpsError> {
    const OP: &str = "rms_norm";
    let dim = weight.len();
    check_nonzero(OP, "weight", dim)?;
    check_at_most(OP, "row length", dim, MAX_DIM - 1)?;
    whole_rows(OP, "x", x.len(), dim)?;
    check_len(OP, "out", x.len(), out.len())?;
    if !(params.eps >= 0.0 && params.eps.is_finite()) {
        return Err(OpsError::InvalidParam {
            op: OP,
            param: "eps",
            value: params.eps as f64,
            reason: "must be finite and >= 0",
        });
    }
    let eps = domain(params.eps);
    // The crate's own reciprocal: the same bits under any evaluation.
    let inv_n = recip_with::<Unfused>(dim as f32);
    let scales: Vec<f32> = weight
        .iter()
        .map(|&w| match params.weight {
            NormWeight::Scale => ftz(w),
            NormWeight::OnePlus => ftz(1.0 + ftz(w)),
        })
        .collect();
    let per_task = rows_per_task(dim);
    let rows = x.par_chunks_exact(dim).zip(out.par_chunks_exact_mut(dim));
    rows.with_min_len(per_task)
        .for_each(|(x, out)| row(x, &scales, inv_n, eps, out));
    Ok(())
}

/// [`row`] compiled per SIMD level, FMA in the clones that have it (same bits): in the
/// baseline build these rows and RoPE's took about 6% of a Gemma 3 prefill.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn row_native(x: &[f32], scales: &[f32], inv_n: f32, eps: f32, out: &mut [f32]) {
    if target_cfg_f!(target_feature = "fma") {
        row::<Fused>(x, scales, inv_n, eps, out);
    } else {
        row::<Unfused>(x, scales, inv_n, eps, out);
    }
}

/// One row of [`rms_norm_with`].
#[inline(always)]
fn row<A: MulAdd>(x: &[f32], scales: &[f32], inv_n: f32, eps: f32, out: &mut [f32]) {
    let sum_sq = lane_sum(x.len(), |i, acc| {
        let (head, tail) = split(x[i]);
        let acc = A::mul_add(head, head, acc);
        let acc = A::mul_add(2.0 * head, tail, acc);
        A::mul_add(tail, tail, acc)
    });
    let inv_rms = rsqrt_with::<A>(split_mul_add::<A>(sum_sq, inv_n, eps));
    for ((o, &v), &s) in out.iter_mut().zip(x).zip(scales) {
        *o = canonical(ftz(ftz(v) * inv_rms) * s);
    }
}
