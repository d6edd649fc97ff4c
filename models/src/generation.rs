//! Generating tokens: stop tokens from generation_config.json, then prefill and a decode
//! loop with greedy or seeded sampling.

use std::path::Path;
use std::time::{Duration, Instant};

use fak_backends::Backend;
use fak_ops::{Sampler, SamplingParams};
use serde::Deserialize;

use crate::forward::{Activations, Logits};
use crate::kv_cache::KvCache;
use crate::{Model, ModelError, json_file};

/// The ids that end a generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopTokens(pub Vec<u32>);

/// `eos_token_id` as checkpoints write it: one id or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(u32),
    Many(Vec<u32>),
}

#[derive(Debug, Deserialize)]
struct EosField {
    eos_token_id: Option<OneOrMany>,
}

impl StopTokens {
    /// `eos_token_id` of `dir/generation_config.json`; where a checkpoint has no such file,
    /// that of config.json, as transformers falls back to it.
    /// A GGUF file's come from its metadata ([`StopTokens::from_gguf`]).
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        if crate::gguf::is_gguf(dir) {
            return Ok(Self::from_gguf(&crate::gguf::GgufFile::open(dir)?));
        }
        let generation = dir.join("generation_config.json");
        let (path, what) = if generation.exists() {
            (generation, "the generation config")
        } else {
            (dir.join("config.json"), "the model's config")
        };
        let field: EosField = json_file::read(&path, what)?;
        Ok(Self(match field.eos_token_id {
            None => Vec::new(),
            Some(OneOrMany::One(id)) => vec![id],
            Some(OneOrMany::Many(ids)) => ids,
        }))
    }

    pub fn contains(&self, id: u32) -> bool {
        self.0.contains(&id)
    }
}

/// How to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerateOptions {
    /// Most tokens to generate (the stop token not counted).
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Seeds the sampler's ChaCha20 stream (unused when greedy).
    pub seed: u64,
    /// Prompt tokens per forward call: bounds the activation memory of long prompts.
    /// The logits do not depend on it.
    pub prefill_chunk: usize,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_tokens: 128,
            sampling: SamplingParams::GREEDY,
            seed: 0,
            prefill_chunk: 512,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model produced this stop token (not part of [`Generation::tokens`]).
    StopToken(u32),
    /// [`GenerateOptions::max_tokens`] tokens were generated.
    MaxTokens,
    /// The sequence filled the model's context.
    ContextFull,
}

/// The generated tokens and how long each phase took.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub tokens: Vec<u32>,
    pub stop: StopReason,
    pub prompt_tokens: usize,
    /// Forward calls over the prompt (its last call also gives the first token's logits).
    pub prefill_time: Duration,
    /// One-token forward calls after the prompt, and the sampling of their results.
    pub decode_steps: usize,
    pub decode_time: Duration,
}

/// Prefills `prompt` after the positions `kv` already holds, then samples up to
/// `options.max_tokens` tokens, calling `on_token` with each as soon as it is chosen. An
/// error from `on_token` (a closed output) ends generation with that error.
pub fn generate<B: Backend, K: KvCache<B>, E: From<ModelError>>(
    model: &Model<B>,
    kv: &mut K,
    prompt: &[u32],
    stop: &StopTokens,
    options: &GenerateOptions,
    on_token: impl FnMut(u32) -> Result<(), E>,
) -> Result<Generation, E> {
    check(model, kv, prompt, options)?;
    run(model, kv, prompt, stop, options, on_token)
}

fn check<B: Backend, K: KvCache<B>>(
    model: &Model<B>,
    kv: &K,
    prompt: &[u32],
    options: &GenerateOptions,
) -> Result<(), ModelError> {
    if prompt.is_empty() {
        return Err(ModelError::EmptyPrompt);
    }
    if kv.len() + prompt.len() > model.context() {
        return Err(ModelError::PromptTooLong {
            tokens: kv.len() + prompt.len(),
            context: model.context(),
        });
    }
    for (param, value) in [
        ("max_tokens", options.max_tokens),
        ("prefill_chunk", options.prefill_chunk),
    ] {
        if value == 0 {
            return Err(ModelError::InvalidParam {
                param,
                value: "0".to_owned(),
                reason: "must be at least 1",
            });
        }
    }
    Ok(())
}

fn run<B: Backend, K: KvCache<B>, E: From<ModelError>>(
    model: &Model<B>,
    kv: &mut K,
    prompt: &[u32],
    stop: &StopTokens,
    options: &GenerateOptions,
    mut on_token: impl FnMut(u32) -> Result<(), E>,
) -> Result<Generation, E> {
    let mut sampler = Sampler::new(options.sampling, options.seed).map_err(ModelError::from)?;
    let mut activations = Activations::new();

    let started = Instant::now();
    let mut logits = Vec::new();
    let chunks = prompt.len().div_ceil(options.prefill_chunk);
    for (i, chunk) in prompt.chunks(options.prefill_chunk).enumerate() {
        let rows = if i + 1 == chunks {
            Logits::Last
        } else {
            Logits::None
        };
        logits = model.forward(&mut activations, kv, chunk, rows)?;
    }
    let prefill_time = started.elapsed();

    let started = Instant::now();
    let mut tokens = Vec::with_capacity(options.max_tokens);
    let mut decode_steps = 0;
    let stop_reason = loop {
        let next = sampler.sample(&logits).map_err(ModelError::from)? as u32;
        if stop.contains(next) {
            break StopReason::StopToken(next);
        }
        tokens.push(next);
        on_token(next)?;
        if tokens.len() == options.max_tokens {
            break StopReason::MaxTokens;
        }
        if kv.len() == model.context() {
            break StopReason::ContextFull;
        }
        logits = model.forward(&mut activations, kv, &[next], Logits::Last)?;
        decode_steps += 1;
    };
    Ok(Generation {
        tokens,
        stop: stop_reason,
        prompt_tokens: prompt.len(),
        prefill_time,
        decode_steps,
        decode_time: started.elapsed(),
    })
}
