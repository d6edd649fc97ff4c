//! Excision cost against span position, run live: a span of `span` tokens cut at each
//! position of an `length`-token session on the in-kernel model, against a cold prefill of
//! the same edited tokens. The excision keeps the blocks before the span and computes the
//! positions after it, so its work should track `length - position - span` while the cold
//! rebuild pays `length - span` wherever the span was. Each excision is also checked exact
//! against the cold run (max|Δ| = 0).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fak_backends::{Backend, KV_BLOCK_TOKENS};
use fak_kernel::kv::{KvError, KvStore, SpanKind, SpanMeta, SpanTrust};
use fak_models::Model;
use thiserror::Error;

use crate::fleet::ids;

#[derive(Debug, Error)]
pub enum ExcisionError {
    #[error(transparent)]
    Kv(#[from] KvError),
    #[error("a span of {span} tokens at {position} does not fit a session of {length}")]
    Shape {
        position: usize,
        span: usize,
        length: usize,
    },
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error("the session of {length} positions does not fit the model's context of {context}")]
    Context { length: usize, context: usize },
    #[error("the excision at {position} is not exact against a cold run: max|Δ| {delta}")]
    NotExact { position: usize, delta: f64 },
}

/// One span position: positions computed and the median wall time of each arm.
#[derive(Debug, Clone, PartialEq)]
pub struct ExcisionRun {
    pub position: usize,
    pub excise_computed: usize,
    pub cold_computed: usize,
    pub excise_seconds: f64,
    pub cold_seconds: f64,
}

/// Runs every position `repeats` times per arm (each on a fresh store, so nothing is
/// adopted from an earlier run) and keeps the median times.
pub fn run_excisions<B: Backend>(
    model: &Arc<Model<B>>,
    length: usize,
    span: usize,
    positions: &[usize],
    repeats: usize,
) -> Result<Vec<ExcisionRun>, ExcisionError> {
    for (name, v) in [("span", span), ("repeats", repeats), ("length", length)] {
        if v == 0 {
            return Err(ExcisionError::Zero(name));
        }
    }
    if length > model.context() {
        return Err(ExcisionError::Context {
            length,
            context: model.context(),
        });
    }
    let all = ids(11, length);
    // The old run is held until the new one is written: room for both.
    let blocks = 2 * length.div_ceil(KV_BLOCK_TOKENS) + 2;
    let meta = SpanMeta::new(SpanKind::ToolResult, SpanTrust::Untrusted);
    positions
        .iter()
        .map(|&position| {
            if position + span > length {
                return Err(ExcisionError::Shape {
                    position,
                    span,
                    length,
                });
            }
            let edited: Vec<u32> = [&all[..position], &all[position + span..]].concat();
            let (mut excise_times, mut cold_times) = (Vec::new(), Vec::new());
            let (mut excise_computed, mut cold_computed) = (0, 0);
            for _ in 0..repeats {
                let store = KvStore::new(model.clone(), blocks)?;
                let mut s = store.session();
                if position > 0 {
                    s.append(&all[..position], meta.clone())?;
                }
                let cut = s.append(&all[position..position + span], meta.clone())?;
                if position + span < length {
                    s.append(&all[position + span..], meta.clone())?;
                }
                let started = Instant::now();
                excise_computed = s.excise(cut)?.computed;
                excise_times.push(started.elapsed());
                let report = s.verify()?;
                if !report.exact() {
                    return Err(ExcisionError::NotExact {
                        position,
                        delta: report.max_abs_delta_kv.max(report.max_abs_delta_logits),
                    });
                }

                let store = KvStore::new(model.clone(), blocks)?;
                let mut cold = store.session();
                let started = Instant::now();
                cold.append_untagged(&edited)?;
                cold_times.push(started.elapsed());
                cold_computed = cold.last_edit().computed;
            }
            Ok(ExcisionRun {
                position,
                excise_computed,
                cold_computed,
                excise_seconds: median(excise_times),
                cold_seconds: median(cold_times),
            })
        })
        .collect()
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64()
}
