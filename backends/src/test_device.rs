//! The Vulkan device for test suites, with the one rule every suite follows.

use crate::{BackendKind, WgpuBackend, open_wgpu};

/// Vulkan device 0, or `None` after printing `SKIPPED: <why>` so a developer without a
/// Vulkan driver can still run the tests. With `FAK_REQUIRE_VULKAN` set (`.ci/run` sets
/// it) a missing device panics instead: in CI a skip must not pass as a success.
pub fn vulkan_for_tests() -> Option<WgpuBackend> {
    match open_wgpu(BackendKind::Vulkan, 0) {
        Ok(backend) => Some(backend),
        Err(why) => {
            assert!(
                std::env::var_os("FAK_REQUIRE_VULKAN").is_none(),
                "FAK_REQUIRE_VULKAN is set but Vulkan cannot be opened: {why}"
            );
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}
