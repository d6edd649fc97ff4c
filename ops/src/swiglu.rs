//! SwiGLU, the gated MLP activation: `out = silu(gate) * up`.

use crate::arith::{MulAdd, Unfused};
use crate::canonical::{canonical, ftz};
use crate::error::{OpsError, check_len, check_nonzero};
use crate::math::silu_with;

/// SwiGLU with the default (unfused) evaluation; see [`swiglu_with`].
pub fn swiglu(gate: &[f32], up: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    swiglu_with::<Unfused>(gate, up, out)
}

/// `out[i] = canonical(silu(gate[i]) * up[i])`: a rounded product that feeds no add.
pub fn swiglu_with<A: MulAdd>(gate: &[f32], up: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    check_nonzero("swiglu", "gate", gate.len())?;
    check_len("swiglu", "up", gate.len(), up.len())?;
    check_len("swiglu", "out", gate.len(), out.len())?;
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = canonical(silu_with::<A>(g) * ftz(u));
    }
    Ok(())
}
