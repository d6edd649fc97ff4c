//! The crate's own transcendental math (DETERMINISM.md §4): built from exact products, adds
//! and integer bit operations only, so every backend computes the same bits. Never the
//! platform's `exp`, `sqrt` or division, whose precision differs between backends.
//!
//! Each function has a `_with` form generic over [`MulAdd`](crate::MulAdd) (the tests run
//! both evaluations) and a plain form that uses [`Unfused`](crate::Unfused).

mod exp;
mod gelu;
mod pow2;
mod recip;
mod rsqrt;
mod sigmoid;

pub use exp::{exp, exp_with};
pub use gelu::{gelu_tanh, gelu_tanh_with};
pub use recip::{recip, recip_with};
pub use rsqrt::{rsqrt, rsqrt_with};
pub use sigmoid::{sigmoid, sigmoid_with, silu, silu_with};
