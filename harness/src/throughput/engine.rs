//! fak's side of the throughput protocol ([`super::peer`]): the checkpoint on the backend
//! asked for (the CPU by default) with `threads` rayon threads, one discarded warm-up call,
//! the prompt prefilled in one forward call, then greedy one-token decode steps, exactly as
//! the peers are asked to run. Every step reads its logits back to the host for the argmax,
//! so a GPU backend's time includes finishing its work.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use fak_backends::{AnyBackend, Backend, BackendError, BackendKind};
use fak_models::{Activations, ConfigDtype, Logits, Model, ModelError, SequenceKv};
use rayon::ThreadPool;
use thiserror::Error;

use super::peer::Report;
use crate::on_backend::{NotInThisBuild, OnBackend, on_backend};

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    NotInThisBuild(#[from] NotInThisBuild),
    #[error("cannot start a pool of {threads} threads: {source}")]
    Pool {
        threads: usize,
        source: rayon::ThreadPoolBuildError,
    },
    #[error("{path}: {problem}")]
    Tokens { path: String, problem: String },
    #[error("the logits have no largest value: {0}")]
    Argmax(#[from] fak_ops::OpsError),
    #[error("cannot read the peak resident set from /proc/self/status: {0}")]
    Rss(String),
}

/// Loads `model` on device 0 of `backend`, runs `tokens` (a JSON array of ids) and
/// `decode` greedy steps on `threads` threads, and reports the time of each phase.
pub fn run(
    model: &Path,
    tokens: &Path,
    decode: usize,
    threads: usize,
    backend: BackendKind,
) -> Result<Report, EngineError> {
    let prompt = read_tokens(tokens)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|source| EngineError::Pool { threads, source })?;
    let backend = AnyBackend::open(backend, 0)?;
    on_backend(
        &backend,
        Measure {
            model,
            prompt: &prompt,
            decode,
            pool: &pool,
        },
    )
}

/// One measured run, written once for every backend.
struct Measure<'a> {
    model: &'a Path,
    prompt: &'a [u32],
    decode: usize,
    pool: &'a ThreadPool,
}

impl OnBackend for Measure<'_> {
    type Output = Report;
    type Error = EngineError;

    fn run<B: Backend>(self, backend: Arc<B>) -> Result<Report, EngineError> {
        let Self {
            model,
            prompt,
            decode,
            pool,
        } = self;
        let capacity = prompt.len() + decode;
        let model = Model::load(backend.clone(), model, Some(capacity))?;
        let weights = match model.config().dtype {
            Some(ConfigDtype::Bf16) => "bf16",
            Some(ConfigDtype::F16) => "f16",
            Some(ConfigDtype::F32) => "f32",
            None => "as stored",
        };
        let mut activations = Activations::new();
        pool.install(|| {
            // Warm-up, discarded: the first forward pages the mapped weights in (and on a
            // GPU compiles the kernels).
            let mut warm = SequenceKv::new(&*backend, model.config(), 1)?;
            model.forward(&mut activations, &mut warm, &prompt[..1], Logits::Last)?;
            let mut kv = SequenceKv::new(&*backend, model.config(), capacity)?;

            let started = Instant::now();
            let logits = model.forward(&mut activations, &mut kv, prompt, Logits::Last)?;
            let mut next = fak_ops::argmax(&logits)? as u32;
            let prefill_seconds = started.elapsed().as_secs_f64();

            let started = Instant::now();
            for _ in 0..decode {
                let logits = model.forward(&mut activations, &mut kv, &[next], Logits::Last)?;
                next = fak_ops::argmax(&logits)? as u32;
            }
            let decode_seconds = started.elapsed().as_secs_f64();
            Ok(Report {
                engine: "fak".to_string(),
                weights: weights.to_string(),
                prompt_tokens: prompt.len(),
                decode_tokens: decode,
                prefill_seconds,
                decode_seconds,
                peak_rss_bytes: peak_rss_bytes()?,
            })
        })
    }
}

fn read_tokens(path: &Path) -> Result<Vec<u32>, EngineError> {
    let problem = |problem: String| EngineError::Tokens {
        path: path.display().to_string(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    let tokens: Vec<u32> = serde_json::from_str(&text)
        .map_err(|e| problem(format!("not a JSON array of token ids: {e}")))?;
    if tokens.is_empty() {
        return Err(problem("the prompt is empty".to_string()));
    }
    Ok(tokens)
}

/// VmHWM: the most memory this process has had resident, mapped weights included.
fn peak_rss_bytes() -> Result<u64, EngineError> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| EngineError::Rss(e.to_string()))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| EngineError::Rss("no VmHWM line".to_string()))?;
    Ok(kib * 1024)
}
