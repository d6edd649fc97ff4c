//! Running a command written once over `B: Backend` on the backend the user named.

use std::sync::Arc;

use anyhow::{Result, bail};
use fak_backends::{Backend, BackendKind, CpuBackend};

use crate::exit::Status;

/// A command generic over the backend it runs on.
pub trait OnBackend {
    fn run<B: Backend>(self, backend: Arc<B>) -> Result<Status>;
}

/// Opens device 0 of backend `name` (cpu, vulkan, metal, cuda) and runs `command` on it. A
/// backend this build or this machine lacks is an error listing what there is.
pub fn on_backend(name: &str, command: impl OnBackend) -> Result<Status> {
    let kind: BackendKind = name.parse()?;
    match kind {
        BackendKind::Cpu => command.run(Arc::new(CpuBackend::new())),
        #[cfg(any(feature = "vulkan", feature = "metal"))]
        BackendKind::Vulkan | BackendKind::Metal => {
            command.run(Arc::new(fak_backends::open_wgpu(kind, 0)?))
        }
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => command.run(Arc::new(fak_backends::open_cuda(0)?)),
        #[allow(unreachable_patterns)]
        other => {
            // A backend this build of fak-backends lacks, or one the machine has no device
            // for: the probe's error lists what there is.
            fak_backends::probe(other)?;
            bail!(
                "backend {other} is compiled into fak-backends but not offered by this fak \
                 (build it with `--features {other}`)"
            )
        }
    }
}
