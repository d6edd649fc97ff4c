//! Plain data movement: zero fill and contiguous copies of 32-bit words.

use cubecl::prelude::*;

use super::grid::element_index;

/// `out[i] = 0` for `i < n`: device allocations are not zeroed.
#[cube(launch)]
pub fn fill_zero(out: &mut Array<u32>, n: u32) {
    let i = element_index();
    if i < n as usize {
        out[i] = 0u32;
    }
}

/// `out[i] = src[offset + i]` for `i < n`.
#[cube(launch)]
pub fn copy_range(src: &Array<u32>, out: &mut Array<u32>, offset: u32, n: u32) {
    let i = element_index();
    if i < n as usize {
        out[i] = src[offset as usize + i];
    }
}
