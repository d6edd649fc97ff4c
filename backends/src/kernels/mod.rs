//! Every op of `fak-ops` as a CubeCL `#[cube]` kernel, written once for every runtime
//! (Vulkan through SPIR-V, Metal through MSL, CUDA through NVRTC).
//!
//! Each file mirrors the `fak-ops` module of the same name and follows ops/DETERMINISM.md:
//! the same reduction order (32 strided lanes, then the halving tree), only exact products
//! feeding adds, the crate's own exp/recip/rsqrt, canonical outputs, no atomics, no plane
//! operations, no autotuning, and no read of memory a kernel did not write. Where the
//! device code differs in form from the CPU's (integer rounding in exp and in the int8
//! activations, `plus_zero`, the f16 denormal widening), the comment says why and the bits
//! are the same.

pub mod attention;
pub mod buffer;
pub mod canonical;
pub mod embed;
pub mod exact_product;
pub mod glu;
pub mod grid;
pub mod half_float;
pub mod int8;
pub mod kv;
pub mod math;
pub mod matmul;
pub mod norm;
pub mod quantized;
pub mod reduce;
pub mod residual;
pub mod rope;
pub mod scale;
