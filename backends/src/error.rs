//! Why a backend could not be used.

use crate::BackendKind;

/// A backend request that cannot be served, with enough context to fix it.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The name is not one of `cpu`, `vulkan`, `metal`, `cuda`.
    #[error("unknown backend {name:?}: expected one of cpu, vulkan, metal, cuda")]
    UnknownName { name: String },
    /// The backend exists but this binary was built without its cargo feature.
    #[error(
        "backend {requested} is not compiled into this build (rebuild with `--features {requested}`); \
         compiled in: {compiled}"
    )]
    NotCompiled {
        requested: BackendKind,
        compiled: String,
    },
    /// The backend is compiled in but the machine offers no device for it.
    #[error("no {requested} device found on this machine ({why}); available: {available}")]
    NoDevice {
        requested: BackendKind,
        why: String,
        available: String,
    },
    /// An op refused its input (shape, range, value); the ops error names which.
    #[error(transparent)]
    Op(#[from] fak_ops::OpsError),
    /// Shapes handed to the backend do not fit together.
    #[error("{0}")]
    Shape(String),
    /// A buffer larger than the device lets one kernel bind.
    #[error(
        "a buffer of {bytes} bytes exceeds the largest buffer {device} binds ({max} bytes); \
         split the work into smaller calls"
    )]
    BufferTooLarge {
        bytes: usize,
        max: usize,
        device: String,
    },
    /// A wgpu device was requested for a backend that is not a wgpu backend.
    #[error("{0} does not run on wgpu (only vulkan and metal do)")]
    NotWgpu(BackendKind),
    /// The device runtime failed (a read-back, or a panic inside the runtime while opening
    /// the device), with its message.
    #[error("device error: {0}")]
    Device(String),
}
