//! Where fak's ops run.
//!
//! One [`BackendKind`] per place an op can execute: `cpu` (the pure-Rust reference in
//! `fak-ops`, which is also the oracle every other backend is held to, bit for bit), and the
//! CubeCL runtimes `vulkan` (wgpu, SPIR-V), `metal` (wgpu, MSL) and `cuda` (NVRTC). Each GPU
//! runtime sits behind a cargo feature of the same name; `vulkan` is on by default.
//!
//! A forward pass is written once against [`Backend`]; [`CpuBackend`] runs it with the
//! `fak-ops` functions, [`CubeBackend`] with the `#[cube]` kernels in `src/kernels/` (one
//! file per op family, written once for every runtime, following ops/DETERMINISM.md). Code
//! that runs on whichever backend the user names is a [`BackendFn`] handed to
//! [`AnyBackend::run`].
//!
//! # Why CubeCL 0.10.0, pinned
//!
//! Measured on the project's build machine (no internet beyond the package registries):
//! CubeCL 0.11 downloads an LLVM bundle from its build script for the `cuda` and `cpu`
//! runtimes, so `cargo build --features cuda` fails offline. 0.10.0 builds `cuda` (kernels
//! are compiled at run time by NVRTC, the driver is loaded dynamically), `wgpu` and
//! `wgpu-spirv` with nothing but crates.io, and its wgpu runtime runs on Mesa's llvmpipe.
//! CubeCL's own CPU runtime needs the LLVM download in every version, so it is not offered:
//! the `cpu` backend here is the reference implementation, not a CubeCL runtime.
//!
//! [`parity`] holds what it takes to hold a backend to the CPU bit for bit (seeded inputs,
//! every op as a case, the op sweeps, the comparison reporting max|Δ|), shared by the
//! parity test suite and `harness verify`.
//!
//! Choosing a backend at run time goes through [`probe`]: asking for one that this build
//! lacks, or that this machine has no device for, is an error that lists what is there.

mod any;
mod backend;
mod cpu;
mod cube;
mod error;
mod host;
mod kernels;
mod kind;
pub mod parity;
mod probe;
mod shape;
#[cfg(feature = "vulkan")]
mod test_device;

#[cfg(feature = "cuda")]
pub use any::CudaBackend;
#[cfg(any(feature = "vulkan", feature = "metal"))]
pub use any::WgpuBackend;
pub use any::{AnyBackend, BackendFn};
pub use backend::{Backend, KV_BLOCK_TOKENS, KvLayout, KvRows};
pub use cpu::{CpuBackend, CpuKv, CpuTensor};
#[cfg(feature = "cuda")]
pub use cube::open_cuda;
#[cfg(any(feature = "vulkan", feature = "metal"))]
pub use cube::open_wgpu;
pub use cube::{CubeBackend, CubeKv, CubeMatrix, CubeRope, CubeTensor, MathFn};
pub use error::BackendError;
pub use host::{ByteSource, HostBytes, HostMatrix, WeightDtype};
pub use kind::BackendKind;
pub use probe::{DeviceInfo, DeviceLimits, probe, probe_all};
#[cfg(feature = "vulkan")]
pub use test_device::vulkan_for_tests;
