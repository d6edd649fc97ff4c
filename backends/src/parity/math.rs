//! The device's versions of `fak_ops::math` (exp, recip, rsqrt, sigmoid, SiLU, GELU) on a sweep
//! of inputs. These are not [`crate::Backend`] ops, so they have their own entry points.

use cubecl::Runtime;

use super::{Rng, f32_bits};
use crate::{AnyBackend, BackendError, CubeBackend, MathFn};

/// One math function over `x`.
#[derive(Debug, Clone)]
pub struct MathCase {
    pub f: MathFn,
    pub x: Vec<f32>,
}

impl MathCase {
    /// `f` over arbitrary bit patterns, three value ranges, edge values, and the boundaries
    /// of exp's range, of rounding its exponent, of the normal range and of GELU's
    /// saturation.
    pub fn sweep(f: MathFn) -> Self {
        let mut rng = Rng::new(7);
        let mut x = rng.bit_patterns(1 << 16);
        x.extend(rng.values(1 << 14, 100.0));
        x.extend(rng.values(1 << 14, 1.0));
        x.extend(rng.values_with_edges(1 << 12, 90.0, 4));
        x.extend([
            89.0,
            89.000_01,
            -88.0,
            -88.000_01,
            0.5,
            -0.5,
            1.5,
            0.346_573_6,
            -87.336_55,
            f32::MIN_POSITIVE,
            f32::MAX,
            -f32::MAX,
            1.0,
            2.0,
            4.0,
            0.25,
            16.0,
            -16.0,
            16.000_002,
            -16.000_002,
            -10.0,
        ]);
        Self { f, x }
    }

    /// The CPU reference's output, as f32 bits.
    pub fn reference(&self) -> Vec<u32> {
        let f = self.f.reference();
        self.x.iter().map(|&v| f(v).to_bits()).collect()
    }

    /// The output of `device`'s kernel, as f32 bits.
    pub fn run_on<R: Runtime>(&self, device: &CubeBackend<R>) -> Result<Vec<u32>, BackendError> {
        use crate::Backend;
        let input = device.upload(&self.x)?;
        let mut out = device.zeros(self.x.len())?;
        device.map_math(self.f, &input, &mut out)?;
        Ok(f32_bits(&device.download(&out)?))
    }

    /// The output on whichever backend `backend` holds; on the CPU, the reference itself.
    pub fn run_on_any(&self, backend: &AnyBackend) -> Result<Vec<u32>, BackendError> {
        match backend {
            AnyBackend::Cpu(_) => Ok(self.reference()),
            #[cfg(any(feature = "vulkan", feature = "metal"))]
            AnyBackend::Wgpu(device) => self.run_on(device),
            #[cfg(feature = "cuda")]
            AnyBackend::Cuda(device) => self.run_on(device),
        }
    }
}
