//! Gated linear units, the MLP activations `out = act(gate) * up`: SwiGLU (`act` = SiLU,
//! Llama, Qwen) and GeGLU (`act` = GELU with the tanh approximation, Gemma).

use multiversion::multiversion;
use multiversion::target::target_cfg_f;
use rayon::prelude::*;

use crate::arith::{Fused, MulAdd, Unfused};
use crate::canonical::{canonical, ftz};
use crate::error::{OpsError, check_len, check_nonzero};
use crate::math::{gelu_tanh_with, silu_with};
use crate::tasks::TASK_ELEMENTS;

/// The activation a gated linear unit applies to its gate.
trait Activation {
    /// The op's name in errors.
    const OP: &'static str;
    /// The activation of one gate value, identical bits under any [`MulAdd`].
    fn apply<A: MulAdd>(x: f32) -> f32;
}

/// SiLU: SwiGLU's activation.
struct Silu;

impl Activation for Silu {
    const OP: &'static str = "swiglu";
    #[inline(always)]
    fn apply<A: MulAdd>(x: f32) -> f32 {
        silu_with::<A>(x)
    }
}

/// GELU, tanh approximation: GeGLU's activation.
struct GeluTanh;

impl Activation for GeluTanh {
    const OP: &'static str = "geglu";
    #[inline(always)]
    fn apply<A: MulAdd>(x: f32) -> f32 {
        gelu_tanh_with::<A>(x)
    }
}

/// SwiGLU with the fastest evaluation this CPU has (vectorised, FMA where available, in
/// parallel for large inputs); the bits are those of [`swiglu_with`] under any [`MulAdd`].
pub fn swiglu(gate: &[f32], up: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    gated::<Silu>(gate, up, out)
}

/// `out[i] = canonical(silu(gate[i]) * ftz(up[i]))`: a rounded product that feeds no add.
pub fn swiglu_with<A: MulAdd>(gate: &[f32], up: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    gated_with::<Silu, A>(gate, up, out)
}

/// GeGLU with the fastest evaluation this CPU has (vectorised, FMA where available, in
/// parallel for large inputs); the bits are those of [`geglu_with`] under any [`MulAdd`].
pub fn geglu(gate: &[f32], up: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    gated::<GeluTanh>(gate, up, out)
}

/// `out[i] = canonical(gelu_tanh(gate[i]) * ftz(up[i]))` (see
/// [`gelu_tanh_with`](crate::math::gelu_tanh_with)): a rounded product that feeds no add.
pub fn geglu_with<A: MulAdd>(gate: &[f32], up: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    gated_with::<GeluTanh, A>(gate, up, out)
}

fn gated<G: Activation>(gate: &[f32], up: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    check_gated(G::OP, gate.len(), up.len(), out.len())?;
    out.par_chunks_mut(TASK_ELEMENTS)
        .zip(gate.par_chunks(TASK_ELEMENTS))
        .zip(up.par_chunks(TASK_ELEMENTS))
        .for_each(|((o, g), u)| gated_native::<G>(g, u, o));
    Ok(())
}

fn gated_with<G: Activation, A: MulAdd>(
    gate: &[f32],
    up: &[f32],
    out: &mut [f32],
) -> Result<(), OpsError> {
    check_gated(G::OP, gate.len(), up.len(), out.len())?;
    elements::<G, A>(gate, up, out);
    Ok(())
}

/// The checks of the gated unit `op` (`"swiglu"` or `"geglu"`) on its buffers' lengths:
/// `gate` non-empty, `up` and `out` as long as it.
pub fn check_gated(
    op: &'static str,
    gate_len: usize,
    up_len: usize,
    out_len: usize,
) -> Result<(), OpsError> {
    check_nonzero(op, "gate", gate_len)?;
    check_len(op, "up", gate_len, up_len)?;
    check_len(op, "out", gate_len, out_len)
}

/// [`elements`] compiled per SIMD level, FMA in the clones that have it (same bits).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn gated_native<G: Activation>(gate: &[f32], up: &[f32], out: &mut [f32]) {
    if target_cfg_f!(target_feature = "fma") {
        elements::<G, Fused>(gate, up, out);
    } else {
        elements::<G, Unfused>(gate, up, out);
    }
}

/// The element loop; the activations are branch-free and inlined, so it vectorises.
#[inline(always)]
fn elements<G: Activation, A: MulAdd>(gate: &[f32], up: &[f32], out: &mut [f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = canonical(G::apply::<A>(g) * ftz(u));
    }
}
