//! The CubeCL backends: the kernels of [`crate::kernels`] on any CubeCL runtime (wgpu for
//! Vulkan and Metal, CUDA), behind the [`crate::Backend`] interface.
//!
//! Everything a kernel reads is checked on the host first (shapes mirror `fak-ops`'
//! refusals, slots and block tables are checked against the pool), so a launch never indexes
//! outside a buffer; kernels run in CubeCL's checked mode all the same.

mod backend_impl;
mod buffer;
mod kv;
#[cfg(any(feature = "vulkan", feature = "metal", feature = "cuda"))]
mod open;
mod weights;

use std::fmt;

use cubecl::prelude::*;
use cubecl::server::Handle;

pub use buffer::{CubeKv, CubeMatrix, CubeRope, CubeTensor};
#[cfg(feature = "cuda")]
pub use open::open_cuda;
#[cfg(any(feature = "vulkan", feature = "metal"))]
pub use open::open_wgpu;

use crate::kernels::grid::element_grid;
use crate::kernels::{buffer as copy, math};
use crate::{BackendError, DeviceInfo};
use buffer::Words;

/// The CubeCL backend on runtime `R`, holding one compute client of one device.
pub struct CubeBackend<R: Runtime> {
    client: ComputeClient<R>,
    device: DeviceInfo,
    /// The largest buffer one kernel may bind, in bytes (wgpu's storage binding limit;
    /// CubeCL's largest memory page on other runtimes).
    max_binding_bytes: usize,
}

/// A clone shares the device (one client): tensors of either work with both.
impl<R: Runtime> Clone for CubeBackend<R> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            device: self.device.clone(),
            max_binding_bytes: self.max_binding_bytes,
        }
    }
}

impl<R: Runtime> fmt::Debug for CubeBackend<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CubeBackend")
            .field("device", &self.device)
            .field("max_binding_bytes", &self.max_binding_bytes)
            .finish_non_exhaustive()
    }
}

/// One of the crate's math functions, applied element-wise by [`CubeBackend::map_math`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathFn {
    Exp,
    Recip,
    Rsqrt,
    Sigmoid,
    Silu,
    /// GELU, tanh approximation.
    GeluTanh,
}

impl MathFn {
    /// Every function, in a stable order.
    pub const ALL: [MathFn; 6] = [
        Self::Exp,
        Self::Recip,
        Self::Rsqrt,
        Self::Sigmoid,
        Self::Silu,
        Self::GeluTanh,
    ];

    /// The CPU reference of this function.
    pub fn reference(self) -> fn(f32) -> f32 {
        match self {
            Self::Exp => fak_ops::math::exp,
            Self::Recip => fak_ops::math::recip,
            Self::Rsqrt => fak_ops::math::rsqrt,
            Self::Sigmoid => fak_ops::math::sigmoid,
            Self::Silu => fak_ops::math::silu,
            Self::GeluTanh => fak_ops::math::gelu_tanh,
        }
    }

    fn kernel_id(self) -> u32 {
        match self {
            Self::Exp => math::MATH_EXP,
            Self::Recip => math::MATH_RECIP,
            Self::Rsqrt => math::MATH_RSQRT,
            Self::Sigmoid => math::MATH_SIGMOID,
            Self::Silu => math::MATH_SILU,
            Self::GeluTanh => math::MATH_GELU_TANH,
        }
    }
}

impl<R: Runtime> CubeBackend<R> {
    /// A backend on an opened client of any CubeCL runtime; `device` describes it (as
    /// [`crate::probe`] lists it). [`crate::open_wgpu`] and `open_cuda` open one for you.
    pub fn new(client: ComputeClient<R>, device: DeviceInfo) -> Self {
        let page = client.properties().memory.max_page_size;
        let max_binding_bytes = usize::try_from(page).unwrap_or(usize::MAX);
        Self {
            client,
            device,
            max_binding_bytes,
        }
    }

    /// The largest buffer one kernel may bind, in bytes.
    pub fn max_binding_bytes(&self) -> usize {
        self.max_binding_bytes
    }

    /// The same device with buffers of at most `bytes` per binding (never more than the
    /// device allows): matrices are uploaded as more, smaller runs of rows. Everything it
    /// creates works with this backend too; they share one client.
    pub fn with_binding_limit(&self, bytes: usize) -> Self {
        Self {
            max_binding_bytes: bytes.min(self.max_binding_bytes),
            ..self.clone()
        }
    }

    /// `out[i] = f(x[i])` with the device's version of one of `fak_ops::math`'s functions:
    /// the functions every op is built from, exposed so they can be held to the CPU's bits
    /// on any input.
    pub fn map_math(
        &self,
        f: MathFn,
        x: &CubeTensor,
        out: &mut CubeTensor,
    ) -> Result<(), BackendError> {
        if x.len() != out.len() {
            return Err(BackendError::Shape(format!(
                "map_math: input of {} values, output of {}",
                x.len(),
                out.len()
            )));
        }
        let (count, dim) = element_grid(x.len());
        math::math_map::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&x.words),
            self.arg(&out.words),
            self.count(x.len())?,
            f.kernel_id(),
        );
        Ok(())
    }

    /// A launch argument over all of `words`.
    fn arg(&self, words: &Words) -> ArrayArg<R> {
        // SAFETY: `words.len` is the number of 32-bit elements of the allocation behind
        // `words.handle` (set by `alloc`/`upload_words`, never changed), so the kernel's
        // view of the array stays inside the buffer.
        #[allow(unsafe_code)]
        unsafe {
            ArrayArg::from_raw_parts(words.handle.clone(), words.len)
        }
    }

    /// A count or index as the `u32` kernels take, refused when it does not fit.
    fn count(&self, n: usize) -> Result<u32, BackendError> {
        u32::try_from(n).map_err(|_| {
            BackendError::Shape(format!(
                "{n} elements exceed what one {} kernel launch indexes (2^32)",
                self.device.backend
            ))
        })
    }

    /// Checks that `words` 32-bit words fit one binding.
    fn check_binding(&self, words: usize) -> Result<(), BackendError> {
        let bytes = words.saturating_mul(4);
        if bytes > self.max_binding_bytes {
            return Err(BackendError::BufferTooLarge {
                bytes,
                max: self.max_binding_bytes,
                device: self.device.name.clone(),
            });
        }
        Ok(())
    }

    /// An uninitialised buffer of `len` words (at least one is allocated: a zero-size
    /// binding is invalid). Callers write every word they later read.
    fn alloc(&self, len: usize) -> Result<Words, BackendError> {
        self.check_binding(len)?;
        Ok(Words {
            handle: self.client.empty(len.max(1) * 4),
            len,
        })
    }

    /// A buffer of `len` zero words.
    fn alloc_zeroed(&self, len: usize) -> Result<Words, BackendError> {
        let words = self.alloc(len)?;
        let (count, dim) = element_grid(len);
        copy::fill_zero::launch::<R>(&self.client, count, dim, self.arg(&words), self.count(len)?);
        Ok(words)
    }

    /// A buffer holding `data`.
    fn upload_words(&self, data: &[u32]) -> Result<Words, BackendError> {
        self.check_binding(data.len())?;
        let handle: Handle = if data.is_empty() {
            self.client.create_from_slice(&[0u8; 4])
        } else {
            self.client.create_from_slice(bytemuck::cast_slice(data))
        };
        Ok(Words {
            handle,
            len: data.len(),
        })
    }

    /// The words of a buffer, read back to the host.
    fn download_words(&self, words: &Words) -> Result<Vec<u32>, BackendError> {
        let bytes = self
            .client
            .read_one(words.handle.clone())
            .map_err(|e| BackendError::Device(format!("reading a buffer back failed: {e:?}")))?;
        let mut out = vec![0u32; words.len];
        let wanted = words.len * 4;
        if bytes.len() < wanted {
            return Err(BackendError::Device(format!(
                "read {} bytes back from a buffer of {wanted}",
                bytes.len()
            )));
        }
        bytemuck::cast_slice_mut::<u32, u8>(&mut out).copy_from_slice(&bytes[..wanted]);
        Ok(out)
    }
}
