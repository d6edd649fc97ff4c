//! Running code that holds its backend (a model keeps an `Arc` of it) on whichever backend
//! an [`AnyBackend`] opened.

use std::sync::Arc;

use fak_backends::{AnyBackend, Backend};

use super::GateError;

/// Code generic over a backend it keeps a handle to.
pub trait OnBackend {
    type Output;
    fn run<B: Backend>(self, backend: Arc<B>) -> Result<Self::Output, GateError>;
}

/// Calls `f` with a handle to `any`'s backend (a clone: the CubeCL backends share their
/// device client, so nothing is opened twice).
pub fn on_backend<F: OnBackend>(any: &AnyBackend, f: F) -> Result<F::Output, GateError> {
    match any {
        AnyBackend::Cpu(b) => f.run(Arc::new(b.clone())),
        #[cfg(any(feature = "vulkan", feature = "metal"))]
        AnyBackend::Wgpu(b) => f.run(Arc::new(b.clone())),
        #[cfg(feature = "cuda")]
        AnyBackend::Cuda(b) => f.run(Arc::new(b.clone())),
        // fak-backends built with a feature this harness was not (another crate of the
        // build turned it on).
        #[allow(unreachable_patterns)]
        other => Err(GateError::NotInThisBuild(other.kind())),
    }
}
