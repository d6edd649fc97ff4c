//! How work is spread over cubes: the device-side index of a unit and the host-side launch
//! geometry that matches it.
//!
//! wgpu caps each dimension of a dispatch at 65535 workgroups, so a grid of more cubes is
//! laid out over x and y; kernels read their linear cube number from `CUBE_POS`.

use cubecl::prelude::*;

/// Units per cube of the element-wise kernels.
pub const ELEMENT_UNITS: u32 = 256;
/// Units per cube of the kernels that reduce in the canonical order: one per lane.
pub const LANE_UNITS: u32 = fak_ops::LANES as u32;
/// Most cubes along one dispatch dimension (wgpu's limit; CUDA allows more in x).
const MAX_CUBES_PER_DIM: usize = 65_535;

/// The position of this unit in an element-wise launch of [`element_grid`].
#[cube]
pub fn element_index() -> usize {
    CUBE_POS * ELEMENT_UNITS as usize + UNIT_POS as usize
}

/// `cubes` cubes, laid out over x and then y.
pub fn cube_grid(cubes: usize) -> CubeCount {
    let cubes = cubes.max(1);
    let x = cubes.min(MAX_CUBES_PER_DIM);
    let y = cubes.div_ceil(MAX_CUBES_PER_DIM);
    // Both fit in u32: x <= 65535 and callers launch far fewer than 2^32 * 65535 cubes.
    CubeCount::Static(x as u32, y as u32, 1)
}

/// Enough cubes of [`ELEMENT_UNITS`] units for `n` elements, with the guard `i < n` left to
/// the kernel.
pub fn element_grid(n: usize) -> (CubeCount, CubeDim) {
    (
        cube_grid(n.div_ceil(ELEMENT_UNITS as usize)),
        CubeDim::new_1d(ELEMENT_UNITS),
    )
}
