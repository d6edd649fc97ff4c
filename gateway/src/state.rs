//! The one state struct every handler and middleware shares.

use std::sync::Arc;

use fak_kernel::Kernel;
use tokio::sync::Semaphore;

use crate::config::{ApiKey, Limits};
use crate::ops::metrics::Metrics;
use crate::source::ModelSource;
use crate::traces::Traces;

#[derive(Debug)]
pub struct AppState {
    pub kernel: Arc<Kernel>,
    pub source: Arc<dyn ModelSource>,
    pub traces: Traces,
    pub key: Option<ApiKey>,
    pub metrics: Metrics,
    /// Concurrency slots for the `/v1` routes.
    pub slots: Arc<Semaphore>,
    pub limits: Limits,
}
