//! Holding a backend to the CPU reference, bit for bit: seeded inputs, every op as a case
//! that runs on any backend, the op sweeps, and the comparison that reports max|Δ|.
//!
//! The parity test suite (`tests/parity/`) asserts these cases; `harness verify` runs the
//! same ones and prints a table. One definition, so the two cannot drift apart.

mod attention;
mod case;
mod compare;
mod kv_rows;
mod math;
mod ops;
mod rng;
mod sweep;

pub use attention::Attention;
pub use case::{CaseOutcome, OpCase, ParityCase, ParityError};
pub use compare::{BitComparison, bf16_as_f32_bits, compare_bits, f32_bits};
pub use kv_rows::KvRowOps;
pub use math::MathCase;
pub use ops::{Elementwise, Embed, Matmul, RmsNorm, Rope};
pub use rng::Rng;
pub use sweep::{DIMS, OpSweep};
