//! SwiGLU, the gated MLP activation: `out = silu(gate) * up`.

use multiversion::multiversion;
use multiversion::target::target_cfg_f;
use rayon::prelude::*;

use crate::arith::{Fused, MulAdd, Unfused};
use crate::canonical::{canonical, ftz};
use crate::error::{OpsError, check_len, check_nonzero};
use crate::math::silu_with;

/// Elements per rayon task: a prefill's MLP activation (hundreds of tokens x 4864) splits
/// into enough tasks for every thread, while a decode step's 4864 values stay on one.
const TASK_ELEMENTS: usize = 8192;

/// SwiGLU with the fastest evaluation this CPU has (vectorised, FMA where available, in
/// parallel for large inputs); the bits are those of [`swiglu_with`] under any [`MulAdd`].
pub fn swiglu(gate: &[f32], up: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    check_shapes(gate, up, out)?;
    out.par_chunks_mut(TASK_ELEMENTS)
        .zip(gate.par_chunks(TASK_ELEMENTS))
        .zip(up.par_chunks(TASK_ELEMENTS))
        .for_each(|((o, g), u)| swiglu_native(g, u, o));
    Ok(())
}

/// `out[i] = canonical(silu(gate[i]) * up[i])`: a rounded product that feeds no add.
pub fn swiglu_with<A: MulAdd>(gate: &[f32], up: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    check_shapes(gate, up, out)?;
    elements::<A>(gate, up, out);
    Ok(())
}

fn check_shapes(gate: &[f32], up: &[f32], out: &[f32]) -> Result<(), OpsError> {
    check_nonzero("swiglu", "gate", gate.len())?;
    check_len("swiglu", "up", gate.len(), up.len())?;
    check_len("swiglu", "out", gate.len(), out.len())
}

/// [`elements`] compiled per SIMD level, FMA in the clones that have it (same bits).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn swiglu_native(gate: &[f32], up: &[f32], out: &mut [f32]) {
    if target_cfg_f!(target_feature = "fma") {
        elements::<Fused>(gate, up, out);
    } else {
        elements::<Unfused>(gate, up, out);
    }
}

/// The element loop; [`silu_with`] is branch-free and inlined, so it vectorises.
#[inline(always)]
fn elements<A: MulAdd>(gate: &[f32], up: &[f32], out: &mut [f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = canonical(silu_with::<A>(g) * ftz(u));
    }
}
