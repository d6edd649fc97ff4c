//! Running code that holds its backend (a model keeps an `Arc` of it) on whichever backend
//! an [`AnyBackend`] opened: the parity gates and the throughput engine both do.

use std::sync::Arc;

use fak_backends::{AnyBackend, Backend, BackendKind};
use thiserror::Error;

/// Code generic over a backend it keeps a handle to.
pub trait OnBackend {
    type Output;
    type Error: From<NotInThisBuild>;
    fn run<B: Backend>(self, backend: Arc<B>) -> Result<Self::Output, Self::Error>;
}

/// fak-backends was built with a backend this harness was not (another crate of the build
/// turned its feature on), so no code here is compiled for it.
#[derive(Debug, Error)]
#[error(
    "backend {0} is compiled into fak-backends but not into this harness \
     (build it with `--features {0}`)"
)]
pub struct NotInThisBuild(pub BackendKind);

/// Calls `f` with a handle to `any`'s backend (a clone: the CubeCL backends share their
/// device client, so nothing is opened twice).
pub fn on_backend<F: OnBackend>(any: &AnyBackend, f: F) -> Result<F::Output, F::Error> {
    match any {
        AnyBackend::Cpu(b) => f.run(Arc::new(b.clone())),
        #[cfg(any(feature = "vulkan", feature = "metal"))]
        AnyBackend::Wgpu(b) => f.run(Arc::new(b.clone())),
        #[cfg(feature = "cuda")]
        AnyBackend::Cuda(b) => f.run(Arc::new(b.clone())),
        #[allow(unreachable_patterns)]
        other => Err(NotInThisBuild(other.kind()).into()),
    }
}
