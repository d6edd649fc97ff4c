//! Every kernel against the CPU reference at max|Δ| = 0, on Vulkan (llvmpipe in CI).
//!
//! One test binary, so the device is opened and each kernel compiled once. Without a
//! Vulkan device every test prints `SKIPPED: <why>` and returns, unless
//! `FAK_REQUIRE_VULKAN` is set (`.ci/run` sets it), which turns the skip into a failure.

mod attention;
mod common;
mod errors;
mod kv;
mod layer;
mod math;
mod ops;
