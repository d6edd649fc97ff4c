//! The canonical reduction order (DETERMINISM.md §1): 32 strided lanes, then a halving tree.
//!
//! Element `i` of a length-`n` reduction goes to lane `i % 32`; each lane starts at +0.0
//! (or -inf for a max) and takes its elements in increasing `i`. The 32 lane results are
//! then folded by halving: width 16, 8, 4, 2, 1, lane `j` takes lane `j + width`. The order
//! depends on `n` alone; a GPU workgroup of 32 threads with a shared-memory tree computes
//! exactly this, and so does a SIMD loop over 32 accumulators.

/// Number of strided lanes of every reduction.
pub const LANES: usize = 32;

/// Folds 32 lane sums into one: `s[j] = s[j] + s[j + w]` for `w = 16, 8, 4, 2, 1`.
#[inline(always)]
pub fn fold_sum(mut s: [f32; LANES]) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for j in 0..width {
            s[j] += s[j + width];
        }
        width /= 2;
    }
    s[0]
}

/// The larger of two values, keeping `a` unless `b` is strictly greater: ties (including
/// -0.0 against +0.0) keep the earlier value and a NaN never wins.
#[inline(always)]
pub fn max_keep_first(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

/// Folds 32 lane maxima with the same halving tree as [`fold_sum`].
#[inline(always)]
pub fn fold_max(mut s: [f32; LANES]) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for j in 0..width {
            s[j] = max_keep_first(s[j], s[j + width]);
        }
        width /= 2;
    }
    s[0]
}

/// Runs the canonical reduction over `n` elements: `step(i, lane)` returns lane `i % 32`
/// after element `i` has been added to it. The step decides how the element enters (a
/// plain add, or an exact product through `MulAdd`); the order is fixed here.
#[inline(always)]
pub fn lane_sum(n: usize, mut step: impl FnMut(usize, f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    for i in 0..n {
        let lane = &mut lanes[i % LANES];
        *lane = step(i, *lane);
    }
    fold_sum(lanes)
}

/// The canonical sum of `values`.
pub fn sum(values: &[f32]) -> f32 {
    lane_sum(values.len(), |i, acc| acc + values[i])
}

/// The canonical maximum of `values` (-inf when empty), with `max_keep_first` per step
/// (ties keep the earlier value, a NaN never wins).
pub fn max(values: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    for (i, &v) in values.iter().enumerate() {
        let lane = &mut lanes[i % LANES];
        *lane = max_keep_first(*lane, v);
    }
    fold_max(lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_follows_lanes_then_halving_tree() {
        // 33 elements: lane 0 holds elements 0 and 32, the others one each.
        let values: Vec<f32> = (0..33).map(|i| 1.0 + i as f32 * 1.0e-7).collect();
        let mut lanes = [0.0f32; LANES];
        for (i, v) in values.iter().enumerate() {
            lanes[i % LANES] += v;
        }
        let mut expected = lanes;
        for width in [16, 8, 4, 2, 1] {
            for j in 0..width {
                expected[j] += expected[j + width];
            }
        }
        assert_eq!(sum(&values).to_bits(), expected[0].to_bits());
    }

    #[test]
    fn sum_order_differs_from_sequential_where_rounding_shows() {
        // Lane order groups 1e8 with -1e8 in lane 0 before the small terms meet it.
        let mut values = vec![1.0e8f32, 1.0, 1.0, 1.0];
        values.resize(32, 0.0);
        values.push(-1.0e8);
        let sequential: f32 = values.iter().sum();
        assert_eq!(sum(&values), 3.0);
        assert_ne!(sequential, 3.0);
    }

    #[test]
    fn max_ignores_nan_and_keeps_first_of_equal_zeros() {
        assert_eq!(max(&[1.0, f32::NAN, 3.0, 2.0]), 3.0);
        assert_eq!(max(&[-0.0, 0.0]).to_bits(), (-0.0f32).to_bits());
        assert_eq!(max(&[]), f32::NEG_INFINITY);
    }
}
