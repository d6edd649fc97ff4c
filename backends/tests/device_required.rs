//! The Vulkan device is required where CI says so: `.ci/run` exports FAK_REQUIRE_VULKAN=1,
//! and then a missing device fails this test instead of letting GPU tests skip.

use fak_backends::{BackendKind, probe};

#[test]
fn vulkan_device_is_present_when_required() {
    if !BackendKind::Vulkan.is_compiled() {
        eprintln!("SKIPPED: this build has no vulkan feature");
        assert!(
            std::env::var_os("FAK_REQUIRE_VULKAN").is_none(),
            "FAK_REQUIRE_VULKAN is set but the vulkan feature is off"
        );
        return;
    }
    match probe(BackendKind::Vulkan) {
        Ok(devices) => {
            for d in &devices {
                eprintln!(
                    "vulkan device {}: {} [{}] {}",
                    d.index, d.name, d.driver, d.limits
                );
                assert!(d.limits.max_workgroup_invocations.unwrap_or(0) >= 64);
            }
        }
        Err(err) => {
            assert!(
                std::env::var_os("FAK_REQUIRE_VULKAN").is_none(),
                "FAK_REQUIRE_VULKAN is set: {err}"
            );
            eprintln!("SKIPPED: {err}");
        }
    }
}

#[test]
fn cuda_probe_never_panics_and_explains_itself() {
    match probe(BackendKind::Cuda) {
        Ok(devices) => assert!(!devices.is_empty()),
        Err(err) => {
            let msg = err.to_string();
            assert!(msg.contains("cuda"), "{msg}");
            eprintln!("no CUDA here: {msg}");
        }
    }
}
