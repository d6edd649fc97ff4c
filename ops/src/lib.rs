//! The arithmetic of fak: deterministic math and the CPU reference of every op.

mod arith;
mod canonical;
mod error;
mod exact_product;
mod half_float;
pub mod math;
mod matvec;
mod reduce;
mod weights;

pub use arith::{Fused, MulAdd, Unfused};
pub use canonical::{CANONICAL_NAN_BITS, canonical, ftz};
pub use error::OpsError;
pub use exact_product::{domain, split, split_mul_add, two_prod_sum};
pub use half_float::{bf16_factor, domain_bf16, round_bf16, to_bf16, widen_bf16, widen_f16};
pub use matvec::{matmul, matmul_with, matvec, matvec_with};
pub use reduce::{LANES, fold_max, fold_sum, lane_sum, max, sum};
pub use weights::{WeightData, WeightView};
