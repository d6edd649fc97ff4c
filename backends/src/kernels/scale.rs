//! Multiplying every value by one factor, mirroring `fak_ops::scale`:
//! `x = canonical(ftz(x) * factor)`, the factor flushed on the host.

use cubecl::prelude::*;

use super::canonical::{canonical, ftz};
use super::grid::element_index;

#[cube(launch)]
pub fn scale(x: &mut Array<f32>, factor: f32, n: u32) {
    let i = element_index();
    if i < n as usize {
        x[i] = canonical(ftz(x[i]) * factor);
    }
}
