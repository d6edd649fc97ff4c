//! Wall-clock runs of fak's own commands and scripts, the ones README quotes as examples:
//! the fused agent's late revocation, the in-kernel `fak serve` demo, the gateway's proxy
//! bench, and the fuzz targets' bounded runs. Each parses what its program writes and checks
//! it before anything is published: counts that must not move between runs, a revocation
//! that must be exact, a fuzz run that must end without a crash.

pub mod fused;
pub mod fuzz;
pub mod proxy;
pub mod serve;

use std::path::PathBuf;
use std::process::Command;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DemoError {
    #[error("cannot start {program}: {source} (build it first; see the command's --help)")]
    Start {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("{command} failed ({status}):\n{stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{what} is not what the harness reads: {source}")]
    Parse {
        what: String,
        source: serde_json::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Runs `command` to the end and returns its stdout; a failure carries its stderr.
pub fn stdout_of(command: &mut Command) -> Result<String, DemoError> {
    let shown = format!("{command:?}");
    let out = command.output().map_err(|source| DemoError::Start {
        program: PathBuf::from(command.get_program()),
        source,
    })?;
    if !out.status.success() {
        return Err(DemoError::Failed {
            command: shown,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, DemoError> {
    serde_json::from_str(text).map_err(|source| DemoError::Parse {
        what: what.to_string(),
        source,
    })
}
