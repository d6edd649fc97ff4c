//! The turn-tax geometry over the WebVoyager tasks: how much prefill a fleet of agents
//! pays under naive re-prefill, a private KV cache per agent, and a shared prefix.
//!
//! [`compat`] reproduces the published figures exactly; [`measured`] replaces their
//! guesses with recorded trajectories and a real tokenizer.

pub mod compat;
mod entries;
pub mod measured;
pub mod policy;
mod render;
pub mod report;
pub mod tasks;
pub mod trajectory;

pub use entries::{Origin, study, to_entries};
pub use render::render;

/// A problem reading or modeling the WebVoyager data.
#[derive(Debug, thiserror::Error)]
pub enum WebbenchError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: line {line}: not a task: {source}")]
    TaskLine {
        file: String,
        line: usize,
        source: serde_json::Error,
    },
    #[error("{0}: holds no tasks")]
    NoTasks(String),
    #[error("{0}: holds no task<ID>.json trajectories")]
    NoTrajectories(String),
    #[error("{file}: {problem}")]
    Trajectory { file: String, problem: String },
    #[error("trajectory for task \"{0}\" has no task of that id in the task file")]
    UnknownTask(String),
    #[error("the recordings do not follow one clipping rule: {0}")]
    ClipRule(String),
    #[error("{file}: cannot load the tokenizer: {problem}")]
    Tokenizer { file: String, problem: String },
    #[error("{file}: not a usable model config: {problem}")]
    Config { file: String, problem: String },
    #[error("--workers: {0}")]
    Workers(String),
    #[error(
        "measured mode needs --{0} (a tokenizer.json and the trajectories directory); compat mode needs neither"
    )]
    MeasuredNeeds(&'static str),
}

/// Checks a fleet-size list (non-empty, every size at least 1, no repeats) and returns
/// its largest size.
pub fn check_workers(workers: &[u64]) -> Result<u64, WebbenchError> {
    if workers.contains(&0) {
        return Err(WebbenchError::Workers(
            "a fleet needs at least 1 worker".into(),
        ));
    }
    let mut sorted = workers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != workers.len() {
        return Err(WebbenchError::Workers(
            "a fleet size is listed twice".into(),
        ));
    }
    sorted
        .last()
        .copied()
        .ok_or_else(|| WebbenchError::Workers("no fleet size given".into()))
}
