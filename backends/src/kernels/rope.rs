//! Rotary position embedding, mirroring `fak_ops::rope_apply`: each pair `(a, b)` of each
//! head of each token becomes `(a cos - b sin, b cos + a sin)` by [`two_prod_sum`], with
//! the host's cos/sin table (DETERMINISM.md §6).

use cubecl::prelude::*;

use super::canonical::canonical;
use super::exact_product::two_prod_sum;
use super::grid::element_index;

/// One unit per (token, head, pair), rotating `x` in place. `interleaved` pairs
/// `(2i, 2i + 1)`; otherwise pairs are `(i, i + pairs)` (rotate-half).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn rope(
    x: &mut Array<f32>,
    cos: &Array<f32>,
    sin: &Array<f32>,
    positions: &Array<u32>,
    tokens: u32,
    n_heads: u32,
    pairs: u32,
    #[comptime] interleaved: bool,
) {
    let i = element_index();
    let pairs = pairs as usize;
    if i < tokens as usize * n_heads as usize * pairs {
        let pair = i % pairs;
        let token_head = i / pairs;
        let position = positions[token_head / n_heads as usize] as usize;
        let head_base = token_head * 2 * pairs;
        let ia = if interleaved {
            head_base + 2 * pair
        } else {
            head_base + pair
        };
        let ib = if interleaved { ia + 1 } else { ia + pairs };
        let c = cos[position * pairs + pair];
        let s = sin[position * pairs + pair];
        let a = x[ia];
        let b = x[ib];
        x[ia] = canonical(two_prod_sum(a, c, -b, s));
        x[ib] = canonical(two_prod_sum(b, c, a, s));
    }
}
