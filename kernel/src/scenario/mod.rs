//! The offline scenario: an agent, its tools and its world, with no model and no network.
//!
//! [`run_offline`] runs one [`Task`] twice with the same scripted [`planner`]: once with
//! the tools wired straight to it, once with every call going through
//! [`Kernel::syscall`](crate::Kernel::syscall). Everything the report says is read from
//! what the run left behind: the world's effects, the transcript the planner read, and
//! the kernel's counters and journal. [`replay`] runs a recorded trace of tool calls
//! through the same syscall path and classifies each call by its live verdict.
//!
//! None of this is part of the governance path: the kernel's policy, decide, admission
//! and audit modules know nothing of it.

pub mod arm;
pub mod fused;
pub mod planner;
pub mod replay;
pub mod report;
pub mod task;
pub mod tools;
pub mod transcript;
pub mod world;

pub use report::{AgentReport, ArmReport, OfflineRun, run_arms, run_offline};
pub use task::Task;

use crate::policy::PolicyError;

/// Why a scenario could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("unknown task \"{name}\" (tasks: {known})")]
    UnknownTask { name: String, known: String },
    #[error("{file}: cannot read the trace: {message}")]
    TraceRead { file: String, message: String },
    #[error("{file}: {path}: {message}")]
    TraceInvalid {
        file: String,
        path: String,
        message: String,
    },
    #[error(transparent)]
    Policy(#[from] PolicyError),
}
