//! sigmoid(x) = 1 / (1 + e^-x) and SiLU(x) = x * sigmoid(x), from the crate's exp and recip.

use super::exp::exp_with;
use super::recip::recip_with;
use crate::arith::{MulAdd, Unfused};
use crate::canonical::{canonical, ftz};

/// sigmoid with the default (unfused) evaluation; see [`sigmoid_with`].
pub fn sigmoid(x: f32) -> f32 {
    sigmoid_with::<Unfused>(x)
}

/// `recip(1 + exp(-x))`: the add takes no product, so it needs no splitting. Large
/// negative x gives +0.0 (exp(-x) is +inf), large positive x gives 1.0. Branch-free, like
/// its parts.
#[inline(always)]
pub fn sigmoid_with<A: MulAdd>(x: f32) -> f32 {
    recip_with::<A>(1.0 + exp_with::<A>(-x))
}

/// SiLU with the default (unfused) evaluation; see [`silu_with`].
pub fn silu(x: f32) -> f32 {
    silu_with::<Unfused>(x)
}

/// `x * sigmoid(x)`, one rounded product that feeds no add, made [`canonical`]: a NaN's
/// payload after a multiply depends on operand order, which compilers may swap.
#[inline(always)]
pub fn silu_with<A: MulAdd>(x: f32) -> f32 {
    canonical(ftz(x) * sigmoid_with::<A>(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_saturates_and_is_half_at_zero() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(100.0), 1.0);
        assert_eq!(sigmoid(-100.0).to_bits(), 0);
        assert_eq!(silu(-100.0).to_bits(), 0x8000_0000);
        assert_eq!(silu(100.0), 100.0);
    }
}
