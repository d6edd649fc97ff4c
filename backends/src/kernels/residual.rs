//! The residual connection and bias add, mirroring `fak_ops::add`:
//! `x = canonical(ftz(x) + ftz(y))`, element by element.

use cubecl::prelude::*;

use super::canonical::{canonical, ftz};
use super::grid::element_index;

/// `x[i] += y[i]` for `i < n`.
#[cube(launch)]
pub fn add(x: &mut Array<f32>, y: &Array<f32>, n: u32) {
    let i = element_index();
    if i < n as usize {
        x[i] = canonical(ftz(x[i]) + ftz(y[i]));
    }
}

/// `x[i] += bias[i % bias_len]` for `i < n`: the bias added to every row.
#[cube(launch)]
pub fn add_bias(x: &mut Array<f32>, bias: &Array<f32>, n: u32, bias_len: u32) {
    let i = element_index();
    if i < n as usize {
        x[i] = canonical(ftz(x[i]) + ftz(bias[i % bias_len as usize]));
    }
}
