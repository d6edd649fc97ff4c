//! The canonical halving tree over 32 lane values (DETERMINISM.md §1), mirroring
//! `fak_ops::{fold_sum, fold_max}`.
//!
//! Lane values are gathered into a unit's own 32-entry local array and folded there, so
//! every unit that needs the result computes it (the same bits) after one barrier, instead
//! of the cube folding in shared memory with a barrier per level.

use cubecl::prelude::*;

use super::canonical::max_keep_first;

/// Lanes of every reduction.
pub const LANES: usize = fak_ops::LANES;

/// Copies the 32 lane values at `shared[base..base + 32]` into `lanes`.
#[cube]
pub fn load_lanes(shared: &SharedMemory<f32>, base: usize, lanes: &mut Array<f32>) {
    #[unroll]
    for j in 0usize..LANES {
        lanes[j] = shared[base + j];
    }
}

/// `s[j] = s[j] + s[j + w]` for `w = 16, 8, 4, 2, 1`; the result is `s[0]`.
#[cube]
pub fn fold_sum(s: &mut Array<f32>) -> f32 {
    fold(s, false)
}

/// The same tree with [`max_keep_first`] as the step.
#[cube]
pub fn fold_max(s: &mut Array<f32>) -> f32 {
    fold(s, true)
}

#[cube]
fn fold(s: &mut Array<f32>, #[comptime] is_max: bool) -> f32 {
    level(s, 16usize, is_max);
    level(s, 8usize, is_max);
    level(s, 4usize, is_max);
    level(s, 2usize, is_max);
    level(s, 1usize, is_max);
    s[0]
}

#[cube]
fn level(s: &mut Array<f32>, #[comptime] width: usize, #[comptime] is_max: bool) {
    #[unroll]
    for j in 0usize..width {
        s[j] = if is_max {
            max_keep_first(s[j], s[j + width])
        } else {
            s[j] + s[j + width]
        };
    }
}
