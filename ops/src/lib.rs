//! The arithmetic of fak: deterministic math and the CPU reference of every op a
//! Llama/Qwen/Gemma-family forward pass needs.
//!
//! Every op gives the same bits whether its multiply-adds are fused or not, however its
//! rows or queries are chunked, and however many threads run it. `DETERMINISM.md` beside
//! this crate is the specification another backend implements to get the same bits; the
//! rules in short:
//!
//! 1. **One reduction order** ([`LANES`] = 32 strided lanes, then a halving tree) for every
//!    sum and dot product, depending only on its length (a bf16 weight row fills the lanes
//!    in pairs, two columns a lane per 32-column chunk: DETERMINISM.md §1).
//! 2. **Exact products**: every product that feeds an add has factors of at most 12
//!    significant bits inside the factor [`domain`]: bf16 activations times bf16/f16
//!    weights, or f32 values [`split`] into two 12-bit pieces.
//! 3. **Own math** ([`math`]): exp, reciprocal, rsqrt, sigmoid, SiLU, GELU (tanh
//!    approximation) from exact products, adds and integer bit operations.
//! 4. **Canonical values**: denormals flush to signed zero and NaN has one bit pattern
//!    ([`canonical`]).
//!
//! Accuracy of the math against f64 (measured by `tests/math_accuracy.rs`): exp <= 2 ulp,
//! recip <= 1 ulp, rsqrt <= 1 ulp, sigmoid and SiLU <= 4 ulp where the result is normal,
//! GELU <= 4 ulp from x = -1 up (below, the conditioning of its exp: DETERMINISM.md §4).
//!
//! Weights a model owns can be held as [`PreparedWeights`]: the factor domain is applied
//! once at load, and matvec/matmul over them skip the per-element clamp (same bits).
//!
//! Every op returns `Result<_, OpsError>` and checks shapes before reading a slice. Ops
//! generic over [`MulAdd`] have a `_with` form; the plain form uses [`Unfused`].

mod argmax;
mod arith;
mod attention;
mod canonical;
mod embed;
mod error;
mod exact_product;
mod glu;
mod half_float;
mod int8;
pub mod math;
mod matvec;
mod norm;
mod quantized;
mod reduce;
mod residual;
mod rope;
mod sampling;
mod scale;
mod softmax;
mod tasks;
mod weights;

pub use argmax::argmax;
pub use arith::{Fused, MulAdd, Unfused};
pub use attention::{ATTENTION_BLOCK, AttentionConfig, KvView, attention, attention_with};
pub use canonical::{CANONICAL_NAN_BITS, canonical, ftz};
pub use embed::embed_gather;
pub use error::OpsError;

/// The input checks the ops run first, for a backend that must refuse the same inputs with
/// the same [`OpsError`] before it launches a kernel.
pub mod checks {
    pub use crate::error::{check_len, check_nonzero, check_positions, shape_product, whole_rows};
    pub use crate::glu::check_gated;
    pub use crate::scale::check_scale;
}
pub use exact_product::{domain, split, split_mul_add, two_prod_sum};
pub use glu::{geglu, geglu_with, swiglu, swiglu_with};
pub use half_float::{bf16_factor, domain_bf16, round_bf16, to_bf16, widen_bf16, widen_f16};
pub use int8::{Int8Block, Int8Rows, LOW_LIMB_SHIFT, quantize_block, quantize_rows};
pub use matvec::{PreparedBlocks, matmul, matmul_with, matvec, matvec_with};
pub use norm::{NormWeight, RmsNormParams, rms_norm, rms_norm_with};
pub use quantized::{
    BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, IntChunk, IntScales, QUANT_BLOCK, QuantBlock,
};
pub use reduce::{LANES, fold_max, fold_sum, lane_sum, max, sum};
pub use residual::add;
pub use rope::{RopeLayout, RopeTable, inv_freq_from_base, rope_apply, rope_apply_with};
pub use sampling::{Sampler, SamplingParams};
pub use scale::scale;
pub use softmax::{softmax, softmax_with};
pub use weights::{PreparedWeights, WeightData, WeightView};
