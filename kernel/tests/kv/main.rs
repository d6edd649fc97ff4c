//! The KV cache as a kernel object, on the committed fixture models: every edit ends in
//! exactly the bytes a cold run of the edited tokens makes (max|Δ| = 0).

mod common;
mod dump;
mod excise;
mod misuse;
mod sharing;
mod vulkan;
