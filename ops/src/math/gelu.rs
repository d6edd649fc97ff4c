//! GELU with the tanh approximation (`gelu_pytorch_tanh`, GGML_OP_GELU), from the crate's
//! sigmoid: `0.5 x (1 + tanh(y)) = x sigmoid(2y)`, `2y = x (K0 + K1 x^2)`.

use super::sigmoid::sigmoid_with;
use crate::arith::{MulAdd, Unfused};
use crate::canonical::{canonical, canonical_nan, ftz, is_nan_bits};
use crate::exact_product::{mul_add_pieces, split, split_in_domain, split_mul_add};

/// `2 sqrt(2/pi)`, the f32 nearest (bits 0x3FCC422A): `2y = x (K0 + K1 x^2)`.
const K0: f32 = f32::from_bits(0x3FCC_422A);
/// `2 sqrt(2/pi) * 0.044715`, the f32 nearest (bits 0x3D922279).
const K1: f32 = f32::from_bits(0x3D92_2279);
/// From here out the result is saturated: `sigmoid(z)` is exactly 1.0 from `x = 8` up and
/// exactly +0.0 below `x = -10.002`, so the selects below give the bits the formula gives,
/// while keeping `x^2` inside the factor domain (below 2^64) and `-inf * 0` out of the last
/// product.
const SATURATED_ABOVE: f32 = 16.0;

/// GELU (tanh approximation) with the default (unfused) evaluation; see [`gelu_tanh_with`].
pub fn gelu_tanh(x: f32) -> f32 {
    gelu_tanh_with::<Unfused>(x)
}

/// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` as `canonical(x * sigmoid(z))` with
/// `z = x (K0 + K1 x^2)`, identical bits under any [`MulAdd`].
///
/// Every product that feeds an add is a [`split_mul_add`] (`x^2 = x*x + 0`,
/// `K0 + K1 x^2`, `z = x*inner + 0`); the last product feeds no add. Large `|x|`
/// saturates: `x > 16` gives `x` (+inf for +inf), `x < -16` gives -0.0 (also for -inf),
/// NaN the canonical NaN. Branch-free, so a loop over a slice vectorises.
#[inline(always)]
pub fn gelu_tanh_with<A: MulAdd>(x: f32) -> f32 {
    let x = ftz(x);
    // False for NaN too: every comparison with NaN is false.
    let in_range = (-SATURATED_ABOVE..=SATURATED_ABOVE).contains(&x);
    let xr = if in_range { x } else { 0.0 };
    let x_pieces = split(xr);
    let square = mul_add_pieces::<A>(x_pieces, x_pieces, 0.0);
    let inner = split_mul_add::<A>(square, K1, K0);
    // inner lies in [K0, K0 + 256 K1]: in the factor domain.
    let z = mul_add_pieces::<A>(x_pieces, split_in_domain(inner), 0.0);
    let y = canonical(xr * sigmoid_with::<A>(z));
    if is_nan_bits(x) {
        canonical_nan()
    } else if x > SATURATED_ABOVE {
        x
    } else if x < -SATURATED_ABOVE {
        -0.0
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_the_nearest_f32_of_their_definitions() {
        let k0 = 2.0 * (2.0 / std::f64::consts::PI).sqrt();
        assert_eq!(K0, k0 as f32);
        assert_eq!(K1, (k0 * 0.044715) as f32);
    }

    #[test]
    fn gelu_saturates_without_nan_and_is_zero_at_zero() {
        assert_eq!(gelu_tanh(0.0).to_bits(), 0);
        assert_eq!(gelu_tanh(-0.0).to_bits(), 0x8000_0000);
        assert_eq!(gelu_tanh(f32::INFINITY), f32::INFINITY);
        assert_eq!(gelu_tanh(f32::NEG_INFINITY).to_bits(), 0x8000_0000);
        assert_eq!(gelu_tanh(f32::MAX), f32::MAX);
        assert_eq!(gelu_tanh(-f32::MAX).to_bits(), 0x8000_0000);
        assert!(gelu_tanh(f32::NAN).is_nan());
        // The selects take over where the formula is already saturated: no step at 16.
        for x in [10.01f32, 12.0, 15.9, 16.0] {
            assert_eq!(gelu_tanh(x), x, "gelu({x})");
            assert_eq!(gelu_tanh(-x).to_bits(), 0x8000_0000, "gelu(-{x})");
        }
    }
}
