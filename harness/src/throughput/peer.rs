//! One engine of the throughput run, as a child process, and what it reports.
//!
//! The protocol: the engine's command line gets `--model DIR --tokens FILE --decode N
//! --threads T` appended (FILE is a JSON array of prompt token ids), and
//! RAYON_NUM_THREADS and OMP_NUM_THREADS are set to T for engines that size their pools
//! from the environment. It runs one warm-up call of one token and discards it, prefills the prompt in one call, decodes N tokens greedily one
//! call each, and prints one JSON object ([`Report`]) on standard output. The Python and
//! candle peers under bench/peers/ and `harness engine` (fak itself) speak it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Shape;

#[derive(Debug, Error)]
pub enum PeerError {
    #[error("peer \"{0}\": expected NAME=COMMAND [ARGS...]")]
    Spec(String),
    #[error("cannot start {name} ({program}): {source}")]
    Start {
        name: String,
        program: String,
        source: std::io::Error,
    },
    #[error("{name} failed ({status}); the end of what it printed:\n{stderr}")]
    Failed {
        name: String,
        status: String,
        stderr: String,
    },
    #[error(
        "{name} printed no report; expected one JSON object as its last line of output: {problem}"
    )]
    BadReport { name: String, problem: String },
    #[error("{name} reports {what} {got}, but was asked for {asked}")]
    Mismatch {
        name: String,
        what: &'static str,
        got: String,
        asked: String,
    },
}

/// What an engine prints when it has run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The engine ("fak", "llama.cpp", "candle", "transformers").
    pub engine: String,
    /// The weight format it ran ("bf16", "q8_0").
    pub weights: String,
    pub prompt_tokens: usize,
    pub decode_tokens: usize,
    /// The prompt in one call, including the first token's logits.
    pub prefill_seconds: f64,
    /// `decode_tokens` one-token calls after it.
    pub decode_seconds: f64,
    /// The process's peak resident set (VmHWM), weights it mapped included.
    pub peak_rss_bytes: u64,
}

/// An engine: its name in tables and ledger ids, and the command that runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub model: PathBuf,
}

impl Peer {
    /// `NAME=PROGRAM ARGS...`, split at whitespace (paths with spaces are not supported).
    pub fn parse(spec: &str, model: &Path) -> Result<Self, PeerError> {
        let (name, command) = spec
            .split_once('=')
            .ok_or_else(|| PeerError::Spec(spec.to_string()))?;
        let mut words = command.split_whitespace();
        let (name, program) = match (name.trim(), words.next()) {
            (name, Some(program)) if !name.is_empty() => (name, program),
            _ => return Err(PeerError::Spec(spec.to_string())),
        };
        Ok(Self {
            name: name.to_string(),
            program: PathBuf::from(program),
            args: words.map(str::to_string).collect(),
            model: model.to_path_buf(),
        })
    }

    /// Runs the engine once and checks that its report answers what was asked.
    pub fn run(&self, tokens: &Path, shape: &Shape) -> Result<Report, PeerError> {
        let threads = shape.threads.to_string();
        let output = Command::new(&self.program)
            .args(&self.args)
            .arg("--model")
            .arg(&self.model)
            .arg("--tokens")
            .arg(tokens)
            .args(["--decode", &shape.decode_tokens.to_string()])
            .args(["--threads", &threads])
            .env("RAYON_NUM_THREADS", &threads)
            .env("OMP_NUM_THREADS", &threads)
            .output()
            .map_err(|source| PeerError::Start {
                name: self.name.clone(),
                program: self.program.display().to_string(),
                source,
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
            return Err(PeerError::Failed {
                name: self.name.clone(),
                status: output.status.to_string(),
                stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
        let report: Report =
            serde_json::from_str(last.unwrap_or("")).map_err(|e| PeerError::BadReport {
                name: self.name.clone(),
                problem: e.to_string(),
            })?;
        self.check(&report, shape)?;
        Ok(report)
    }

    fn check(&self, report: &Report, shape: &Shape) -> Result<(), PeerError> {
        let mismatch = |what, got: String, asked: String| PeerError::Mismatch {
            name: self.name.clone(),
            what,
            got,
            asked,
        };
        if report.prompt_tokens != shape.prompt_tokens {
            return Err(mismatch(
                "prompt tokens",
                report.prompt_tokens.to_string(),
                shape.prompt_tokens.to_string(),
            ));
        }
        if report.decode_tokens != shape.decode_tokens {
            return Err(mismatch(
                "decode tokens",
                report.decode_tokens.to_string(),
                shape.decode_tokens.to_string(),
            ));
        }
        for (what, seconds) in [
            ("prefill seconds", report.prefill_seconds),
            ("decode seconds", report.decode_seconds),
        ] {
            if !(seconds.is_finite() && seconds > 0.0) {
                return Err(mismatch(
                    what,
                    seconds.to_string(),
                    "a positive time".to_string(),
                ));
            }
        }
        Ok(())
    }
}
