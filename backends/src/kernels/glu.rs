//! Gated linear units, mirroring `fak_ops::{swiglu, geglu}`:
//! `out = canonical(act(gate) * ftz(up))` with `act` SiLU or GELU (tanh approximation).

use cubecl::prelude::*;

use super::canonical::{canonical, ftz};
use super::grid::element_index;
use super::math::{gelu_tanh, silu};

/// Which activation [`gated`] applies to the gate.
pub const GLU_SILU: u32 = 0;
pub const GLU_GELU_TANH: u32 = 1;

/// One compiled kernel per activation (chosen at compile time).
#[cube(launch)]
pub fn gated(
    gate: &Array<f32>,
    up: &Array<f32>,
    out: &mut Array<f32>,
    n: u32,
    #[comptime] activation: u32,
) {
    let i = element_index();
    if i < n as usize {
        let g = gate[i];
        let a = if comptime!(activation == GLU_SILU) {
            silu(g)
        } else {
            gelu_tanh(g)
        };
        out[i] = canonical(a * ftz(up[i]));
    }
}
