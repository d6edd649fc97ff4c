//! Prefill and decode throughput of fak against the engines a user would pick instead, on
//! one checkpoint, at one thread count, in one run.
//!
//! Every engine, fak included, is a child process speaking the protocol of [`peer`]: it is
//! given the prompt's token ids and a decode length, prefills the prompt in one call,
//! decodes greedily one token per call, and reports the seconds of each phase and its peak
//! resident set. Running fak the same way keeps the comparison fair (each process pays its
//! own start-up outside the timed phases, and its peak memory is its own). The engines run
//! round-robin, one process each per round, so a slow minute of a shared machine lands on
//! all of them; each phase's median over the rounds is the result. The machine's read
//! bandwidth is measured in the same run to place decode against its roofline.

pub mod bandwidth;
pub mod engine;
pub mod peer;

use std::path::Path;

use thiserror::Error;

use crate::fleet::ids;
use peer::{Peer, PeerError, Report};

#[derive(Debug, Error)]
pub enum ThroughputError {
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error("cannot write the prompt tokens to {path}: {source}")]
    Tokens {
        path: String,
        source: std::io::Error,
    },
}

/// Whether the decode roofline (read bandwidth / the checkpoint's stored weight bytes)
/// bounds an engine computing from `weights`: only when it reads 16-bit weights, two bytes a
/// weight as a bf16 or f16 checkpoint stores them. An engine that widens or requantizes a
/// quantized file reads other bytes, so a share of that roofline would say nothing.
pub fn roofline_applies(weights: &str) -> bool {
    matches!(weights, "bf16" | "f16")
}

/// What is measured: the prompt, the decode length, the threads, the rounds.
#[derive(Debug, Clone)]
pub struct Shape {
    pub prompt_tokens: usize,
    pub decode_tokens: usize,
    pub threads: usize,
    pub rounds: usize,
}

/// One engine's medians over the rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineResult {
    /// The name the engine was given on the command line ("fak", "llama.cpp bf16", ...).
    pub name: String,
    /// The engine's own report of the last round (engine, weights).
    pub engine: String,
    pub weights: String,
    pub prefill_seconds: f64,
    pub decode_seconds: f64,
    /// The largest peak resident set of any round.
    pub peak_rss_bytes: u64,
}

impl EngineResult {
    pub fn prefill_tokens_per_second(&self, shape: &Shape) -> f64 {
        shape.prompt_tokens as f64 / self.prefill_seconds
    }

    pub fn decode_tokens_per_second(&self, shape: &Shape) -> f64 {
        shape.decode_tokens as f64 / self.decode_seconds
    }
}

/// The prompt every engine is given: deterministic ids clear of the special tokens.
pub fn prompt(shape: &Shape) -> Vec<u32> {
    ids(17, shape.prompt_tokens)
}

/// Runs every engine `shape.rounds` times, round-robin, with the prompt written to
/// `scratch`; `progress` hears of each finished run.
pub fn run_rounds(
    engines: &[Peer],
    shape: &Shape,
    scratch: &Path,
    mut progress: impl FnMut(usize, &Peer, &Report),
) -> Result<Vec<EngineResult>, ThroughputError> {
    for (name, v) in [
        ("prompt tokens", shape.prompt_tokens),
        ("decode tokens", shape.decode_tokens),
        ("threads", shape.threads),
        ("rounds", shape.rounds),
    ] {
        if v == 0 {
            return Err(ThroughputError::Zero(name));
        }
    }
    let tokens = scratch.join("prompt.json");
    let json = serde_json::to_string(&prompt(shape)).expect("a list of integers serializes");
    std::fs::write(&tokens, json).map_err(|source| ThroughputError::Tokens {
        path: tokens.display().to_string(),
        source,
    })?;
    let mut reports: Vec<Vec<Report>> = vec![Vec::new(); engines.len()];
    for round in 0..shape.rounds {
        for (engine, runs) in engines.iter().zip(&mut reports) {
            let report = engine.run(&tokens, shape)?;
            progress(round, engine, &report);
            runs.push(report);
        }
    }
    Ok(engines
        .iter()
        .zip(reports)
        .map(|(engine, runs)| {
            let last = runs.last().expect("at least one round");
            EngineResult {
                name: engine.name.clone(),
                engine: last.engine.clone(),
                weights: last.weights.clone(),
                prefill_seconds: median(runs.iter().map(|r| r.prefill_seconds)),
                decode_seconds: median(runs.iter().map(|r| r.decode_seconds)),
                peak_rss_bytes: runs.iter().map(|r| r.peak_rss_bytes).max().unwrap_or(0),
            }
        })
        .collect())
}

/// The median (the upper one of an even count).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
