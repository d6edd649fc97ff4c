//! SwiGLU, mirroring `fak_ops::swiglu`: `out = canonical(silu(gate) * ftz(up))`.

use cubecl::prelude::*;

use super::canonical::{canonical, ftz};
use super::grid::element_index;
use super::math::silu;

#[cube(launch)]
pub fn swiglu(gate: &Array<f32>, up: &Array<f32>, out: &mut Array<f32>, n: u32) {
    let i = element_index();
    if i < n as usize {
        out[i] = canonical(silu(gate[i]) * ftz(up[i]));
    }
}
