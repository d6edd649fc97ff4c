//! RMSNorm, mirroring `fak_ops::rms_norm` (DETERMINISM.md §6): one 32-unit cube per row,
//! unit `j` is lane `j` of the sum of squares.

use cubecl::prelude::*;

use super::canonical::{canonical, ftz};
use super::exact_product::{domain, head, split_mul_add};
use super::math::{recip, rsqrt};
use super::reduce::{LANES, fold_sum, load_lanes};

/// Normalises each of `rows` rows of `dim` values. `eps` is the caller's (checked finite
/// and >= 0 on the host); `one_plus` selects the `x_hat * (1 + w)` weight style.
#[cube(launch)]
pub fn rms_norm(
    x: &Array<f32>,
    weight: &Array<f32>,
    out: &mut Array<f32>,
    rows: u32,
    dim: u32,
    eps: f32,
    #[comptime] one_plus: bool,
) {
    let row = CUBE_POS;
    let lane = UNIT_POS as usize;
    let dim = dim as usize;
    let mut shared = SharedMemory::<f32>::new(LANES);
    if row < rows as usize {
        let base = row * dim;
        let mut acc = 0.0f32;
        for i in range_stepped(lane, dim, LANES) {
            let v = domain(x[base + i]);
            let h = head(v);
            let t = v - h;
            acc += h * h;
            acc += (2.0 * h) * t;
            acc += t * t;
        }
        shared[lane] = acc;
        sync_cube();
        let mut lanes = Array::<f32>::new(LANES);
        load_lanes(&shared, 0, &mut lanes);
        let sum_sq = fold_sum(&mut lanes);
        let inv_n = recip(f32::cast_from(dim as u32));
        let inv_rms = rsqrt(split_mul_add(sum_sq, inv_n, domain(eps)));
        for i in range_stepped(lane, dim, LANES) {
            let s = if one_plus {
                ftz(1.0 + ftz(weight[i]))
            } else {
                ftz(weight[i])
            };
            out[base + i] = canonical(ftz(ftz(x[base + i]) * inv_rms) * s);
        }
    }
}
