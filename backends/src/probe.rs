//! What devices this build and this machine offer, without opening any of them for work.
//!
//! Probing never panics: a missing driver library (no `libcuda.so`, no Vulkan loader) is
//! reported as "no device" with the reason, so `fak backends` and `--backend` errors can say
//! what is there instead of aborting.

use std::fmt;

use crate::{BackendError, BackendKind};

/// One device a backend can run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub backend: BackendKind,
    /// Index among this backend's devices, as `--device` would take it.
    pub index: usize,
    pub name: String,
    /// Driver name and version, where the API reports one.
    pub driver: String,
    pub limits: DeviceLimits,
}

/// The limits that decide how kernels are launched on a device. A field is `None` where
/// the API does not report it (a CPU has no workgroups).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceLimits {
    /// Hardware threads the CPU reference may use.
    pub threads: Option<u32>,
    /// Most invocations in one workgroup (CubeCL: units per cube).
    pub max_workgroup_invocations: Option<u32>,
    /// Workgroup-shared memory, in bytes.
    pub max_shared_memory_bytes: Option<u64>,
    /// Largest storage buffer one kernel may bind, in bytes.
    pub max_buffer_bytes: Option<u64>,
    /// Total device memory, in bytes.
    pub memory_bytes: Option<u64>,
}

impl fmt::Display for DeviceLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(t) = self.threads {
            parts.push(format!("threads={t}"));
        }
        if let Some(n) = self.max_workgroup_invocations {
            parts.push(format!("workgroup_invocations={n}"));
        }
        if let Some(b) = self.max_shared_memory_bytes {
            parts.push(format!("shared_memory={}", bytes(b)));
        }
        if let Some(b) = self.max_buffer_bytes {
            parts.push(format!("max_buffer={}", bytes(b)));
        }
        if let Some(b) = self.memory_bytes {
            parts.push(format!("memory={}", bytes(b)));
        }
        f.write_str(&parts.join(" "))
    }
}

fn bytes(b: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    match b {
        b if b >= GIB => format!("{:.1}GiB", b as f64 / GIB as f64),
        b if b >= MIB => format!("{:.1}MiB", b as f64 / MIB as f64),
        b if b >= KIB => format!("{}KiB", b / KIB),
        b => format!("{b}B"),
    }
}

/// The devices of one backend. An error when the backend is not compiled in, or when the
/// machine has none of its devices (the error lists what the machine does have).
pub fn probe(kind: BackendKind) -> Result<Vec<DeviceInfo>, BackendError> {
    if !kind.is_compiled() {
        return Err(not_compiled(kind));
    }
    let found = match kind {
        BackendKind::Cpu => Ok(vec![cpu_device()]),
        BackendKind::Vulkan | BackendKind::Metal => wgpu_devices(kind),
        BackendKind::Cuda => cuda_devices(),
    };
    match found {
        Ok(devices) if !devices.is_empty() => Ok(devices),
        Ok(_) => Err(no_device(kind, "the driver reports no device".to_owned())),
        Err(why) => Err(no_device(kind, why)),
    }
}

/// Device `index` of `kind`, as [`probe`] lists it.
pub(crate) fn probe_one(kind: BackendKind, index: usize) -> Result<DeviceInfo, BackendError> {
    let devices = probe(kind)?;
    let count = devices.len();
    devices
        .into_iter()
        .nth(index)
        .ok_or_else(|| BackendError::NoDevice {
            requested: kind,
            why: format!("device index {index} requested, {count} found"),
            available: format!("{kind} devices 0..{count}"),
        })
}

/// Every compiled-in backend with its probe result, in [`BackendKind::ALL`] order.
pub fn probe_all() -> Vec<(BackendKind, Result<Vec<DeviceInfo>, BackendError>)> {
    BackendKind::compiled()
        .into_iter()
        .map(|k| (k, probe(k)))
        .collect()
}

/// The error for a backend this build lacks, listing what it has.
pub(crate) fn not_compiled(requested: BackendKind) -> BackendError {
    BackendError::NotCompiled {
        requested,
        compiled: join_names(BackendKind::compiled()),
    }
}

fn no_device(requested: BackendKind, why: String) -> BackendError {
    let available = BackendKind::compiled()
        .into_iter()
        .filter(|&k| k != requested && probe(k).is_ok())
        .collect();
    BackendError::NoDevice {
        requested,
        why,
        available: join_names(available),
    }
}

fn join_names(kinds: Vec<BackendKind>) -> String {
    if kinds.is_empty() {
        return "none".to_owned();
    }
    kinds
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn cpu_device() -> DeviceInfo {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    DeviceInfo {
        backend: BackendKind::Cpu,
        index: 0,
        name: format!("{} host CPU (fak-ops reference)", std::env::consts::ARCH),
        driver: "pure Rust".to_owned(),
        limits: DeviceLimits {
            threads: Some(u32::try_from(threads).unwrap_or(u32::MAX)),
            ..DeviceLimits::default()
        },
    }
}

#[cfg(any(feature = "vulkan", feature = "metal"))]
fn wgpu_devices(kind: BackendKind) -> Result<Vec<DeviceInfo>, String> {
    let backends = match kind {
        BackendKind::Metal => wgpu::Backends::METAL,
        _ => wgpu::Backends::VULKAN,
    };
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapters = cubecl::future::block_on(instance.enumerate_adapters(backends));
    Ok(adapters
        .iter()
        .enumerate()
        .map(|(index, adapter)| {
            let info = adapter.get_info();
            let limits = adapter.limits();
            DeviceInfo {
                backend: kind,
                index,
                name: format!("{} ({:?})", info.name, info.device_type),
                driver: format!("{} {}", info.driver, info.driver_info),
                limits: DeviceLimits {
                    max_workgroup_invocations: Some(limits.max_compute_invocations_per_workgroup),
                    max_shared_memory_bytes: Some(u64::from(
                        limits.max_compute_workgroup_storage_size,
                    )),
                    max_buffer_bytes: Some(limits.max_storage_buffer_binding_size),
                    ..DeviceLimits::default()
                },
            }
        })
        .collect())
}

#[cfg(not(any(feature = "vulkan", feature = "metal")))]
fn wgpu_devices(_kind: BackendKind) -> Result<Vec<DeviceInfo>, String> {
    Err("not compiled in".to_owned())
}

#[cfg(feature = "cuda")]
#[allow(unsafe_code)]
fn cuda_devices() -> Result<Vec<DeviceInfo>, String> {
    use cudarc::driver::result::{device, init};
    use cudarc::driver::sys::CUdevice_attribute as Attr;

    // SAFETY: only tries to dlopen the driver library; no driver call is made if absent.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("the CUDA driver library (libcuda) is not installed".to_owned());
    }
    init().map_err(|e| format!("cuInit failed: {e}"))?;
    let count = device::get_count().map_err(|e| format!("cuDeviceGetCount failed: {e}"))?;
    (0..count)
        .map(|ordinal| {
            let dev = device::get(ordinal).map_err(|e| format!("device {ordinal}: {e}"))?;
            let name = device::get_name(dev).map_err(|e| format!("device {ordinal}: {e}"))?;
            // SAFETY: `dev` is a valid handle from cuDeviceGet; these calls only read
            // properties of it.
            let (memory, threads, shared) = unsafe {
                (
                    device::total_mem(dev).ok(),
                    device::get_attribute(dev, Attr::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
                        .ok(),
                    device::get_attribute(
                        dev,
                        Attr::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                    )
                    .ok(),
                )
            };
            Ok(DeviceInfo {
                backend: BackendKind::Cuda,
                index: usize::try_from(ordinal).unwrap_or(0),
                name,
                driver: "CUDA driver API".to_owned(),
                limits: DeviceLimits {
                    max_workgroup_invocations: threads.and_then(|t| u32::try_from(t).ok()),
                    max_shared_memory_bytes: shared.and_then(|s| u64::try_from(s).ok()),
                    memory_bytes: memory.map(|m| m as u64),
                    ..DeviceLimits::default()
                },
            })
        })
        .collect()
}

#[cfg(not(feature = "cuda"))]
fn cuda_devices() -> Result<Vec<DeviceInfo>, String> {
    Err("not compiled in".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_probe_reports_one_device_with_threads() {
        let devices = probe(BackendKind::Cpu).unwrap();
        assert_eq!(devices.len(), 1);
        assert!(devices[0].limits.threads.unwrap() >= 1);
    }

    #[test]
    fn a_backend_missing_from_the_build_is_named_with_the_compiled_list() {
        let Some(missing) = BackendKind::ALL.into_iter().find(|k| !k.is_compiled()) else {
            // Every backend is compiled in (an all-features build): nothing to refuse.
            return;
        };
        let err = probe(missing).unwrap_err().to_string();
        assert!(err.contains(missing.name()), "{err}");
        assert!(err.contains("compiled in: cpu"), "{err}");
    }

    #[test]
    fn limits_render_with_units() {
        let limits = DeviceLimits {
            max_shared_memory_bytes: Some(32 * 1024),
            max_buffer_bytes: Some(3 << 30),
            ..DeviceLimits::default()
        };
        assert_eq!(limits.to_string(), "shared_memory=32KiB max_buffer=3.0GiB");
    }
}
