//! Choosing a backend at run time.
//!
//! [`Backend`] has associated types, so code that runs on "whichever backend the user
//! named" is written once as a [`BackendFn`] (a generic function over `B: Backend`) and
//! handed to [`AnyBackend::run`], which calls it with the concrete backend.

use crate::probe;
use crate::{Backend, BackendError, BackendKind, CpuBackend, DeviceInfo};

#[cfg(feature = "cuda")]
use crate::cube::open_cuda;
#[cfg(any(feature = "vulkan", feature = "metal"))]
use crate::cube::open_wgpu;

/// The CubeCL backend over wgpu (Vulkan or Metal).
#[cfg(any(feature = "vulkan", feature = "metal"))]
pub type WgpuBackend = crate::CubeBackend<cubecl::wgpu::WgpuRuntime>;
/// The CubeCL backend over CUDA.
#[cfg(feature = "cuda")]
pub type CudaBackend = crate::CubeBackend<cubecl::cuda::CudaRuntime>;

/// Code generic over the backend it runs on: `run` is called once, with the backend
/// [`AnyBackend::run`] holds.
pub trait BackendFn {
    type Output;
    fn run<B: Backend>(self, backend: &B) -> Self::Output;
}

/// One opened backend of any kind this build carries.
#[derive(Debug)]
pub enum AnyBackend {
    Cpu(CpuBackend),
    /// Vulkan or Metal, through wgpu.
    #[cfg(any(feature = "vulkan", feature = "metal"))]
    Wgpu(WgpuBackend),
    #[cfg(feature = "cuda")]
    Cuda(CudaBackend),
}

impl AnyBackend {
    /// Device `index` of `kind` (as [`probe`] lists them). A kind this build lacks, or one
    /// the machine has no such device for, is an error naming what is there.
    pub fn open(kind: BackendKind, index: usize) -> Result<Self, BackendError> {
        match kind {
            BackendKind::Cpu => {
                probe::probe_one(kind, index)?;
                Ok(Self::Cpu(CpuBackend::new()))
            }
            #[cfg(feature = "vulkan")]
            BackendKind::Vulkan => Ok(Self::Wgpu(open_wgpu(kind, index)?)),
            #[cfg(feature = "metal")]
            BackendKind::Metal => Ok(Self::Wgpu(open_wgpu(kind, index)?)),
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => Ok(Self::Cuda(open_cuda(index)?)),
            #[allow(unreachable_patterns)]
            other => Err(probe::not_compiled(other)),
        }
    }

    /// The device the backend runs on.
    pub fn device(&self) -> &DeviceInfo {
        match self {
            Self::Cpu(b) => b.device(),
            #[cfg(any(feature = "vulkan", feature = "metal"))]
            Self::Wgpu(b) => b.device(),
            #[cfg(feature = "cuda")]
            Self::Cuda(b) => b.device(),
        }
    }

    /// The backend family.
    pub fn kind(&self) -> BackendKind {
        self.device().backend
    }

    /// Calls `f` with the concrete backend.
    pub fn run<F: BackendFn>(&self, f: F) -> F::Output {
        match self {
            Self::Cpu(b) => f.run(b),
            #[cfg(any(feature = "vulkan", feature = "metal"))]
            Self::Wgpu(b) => f.run(b),
            #[cfg(feature = "cuda")]
            Self::Cuda(b) => f.run(b),
        }
    }
}
