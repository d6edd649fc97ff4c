//! Opening a CubeCL runtime on a probed device.
//!
//! The device is probed first ([`crate::probe`]), so asking for one the machine lacks is
//! the probe's clear error, never a panic inside CubeCL; what CubeCL could still panic on
//! while creating the device (a driver refusing it) is caught and returned as an error.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::CubeBackend;
use crate::probe::probe_one;
use crate::{BackendError, BackendKind};

/// Runs `f`, turning a panic inside it into [`BackendError::Device`].
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, BackendError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        BackendError::Device(format!("{what}: {message}"))
    })
}

/// The wgpu runtime on device `index` of `kind` (Vulkan or Metal): the same adapter
/// [`crate::probe`] lists at that index.
#[cfg(any(feature = "vulkan", feature = "metal"))]
pub fn open_wgpu(
    kind: BackendKind,
    index: usize,
) -> Result<CubeBackend<cubecl::wgpu::WgpuRuntime>, BackendError> {
    use cubecl::Runtime;
    use cubecl::wgpu::{RuntimeOptions, WgpuRuntime, WgpuSetup, init_device};

    let info = probe_one(kind, index)?;
    let backend = match kind {
        BackendKind::Metal => wgpu::Backend::Metal,
        BackendKind::Vulkan => wgpu::Backend::Vulkan,
        other => return Err(BackendError::NotWgpu(other)),
    };
    let client = no_panic("creating the wgpu device", || {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: backend.into(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = cubecl::future::block_on(instance.enumerate_adapters(backend.into()))
            .into_iter()
            .nth(index)?;
        let (device, queue) = request_device(backend, &adapter)?;
        let setup = WgpuSetup {
            instance,
            adapter,
            device,
            queue,
            backend,
        };
        let device = init_device(setup, RuntimeOptions::default());
        Some(WgpuRuntime::client(&device))
    })?
    .ok_or_else(|| BackendError::NoDevice {
        requested: kind,
        why: format!("the driver refused to open {}", info.name),
        available: "see `fak backends`".to_owned(),
    })?;
    Ok(CubeBackend::new(client, info))
}

/// Opens the logical device CubeCL's kernels need on `adapter` (its features and limits).
#[cfg(any(feature = "vulkan", feature = "metal"))]
fn request_device(
    backend: wgpu::Backend,
    adapter: &wgpu::Adapter,
) -> Option<(wgpu::Device, wgpu::Queue)> {
    match backend {
        #[cfg(feature = "vulkan")]
        wgpu::Backend::Vulkan => {
            cubecl::future::block_on(cubecl::wgpu::vulkan::request_vulkan_device(adapter))
        }
        #[cfg(all(feature = "metal", target_os = "macos"))]
        wgpu::Backend::Metal => Some(cubecl::future::block_on(
            cubecl::wgpu::metal::request_metal_device(adapter),
        )),
        _ => None,
    }
}

/// The CUDA runtime on device `index`.
#[cfg(feature = "cuda")]
pub fn open_cuda(index: usize) -> Result<CubeBackend<cubecl::cuda::CudaRuntime>, BackendError> {
    use cubecl::Runtime;
    use cubecl::cuda::{CudaDevice, CudaRuntime};

    let info = probe_one(BackendKind::Cuda, index)?;
    let client = no_panic("creating the CUDA context", || {
        CudaRuntime::client(&CudaDevice::new(index))
    })?;
    Ok(CubeBackend::new(client, info))
}
