//! `fak generate`: run a Hugging Face checkpoint on a prompt or a chat message, streaming
//! the text to standard output and the speed to standard error.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::ArgGroup;
use fak_backends::Backend;
use fak_models::{
    Chat, ChatTemplate, GenerateOptions, Generation, Model, ModelConfig, SamplingParams,
    SequenceKv, StopReason, StopTokens, Tokenizer, generate,
};

use crate::exit::{self, Status};
use crate::on_backend::{OnBackend, on_backend};

/// Generate text with a model directory (config.json, safetensors weights, tokenizer.json,
/// tokenizer_config.json, generation_config.json) or a GGUF file (Gemma 3), printing it as
/// it is produced.
#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
#[command(group(ArgGroup::new("input").required(true).args(["prompt", "chat"])))]
pub struct Args {
    /// The model directory, or a .gguf file.
    #[arg(long, value_name = "DIR|FILE.gguf")]
    model: PathBuf,
    /// Text to continue, tokenized as it is (the tokenizer adds its own bos, if any).
    #[arg(long)]
    prompt: Option<String>,
    /// A user message, rendered with the model's own chat template.
    #[arg(long)]
    chat: Option<String>,
    /// Where the forward pass runs: cpu, or vulkan, metal or cuda where this fak was built
    /// with that feature (device 0).
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Most tokens to generate (a stop token from generation_config.json ends earlier).
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// Sampling temperature; 0 picks the most likely token every step (greedy).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Keep only the most likely tokens whose probabilities add up to this (1 keeps all).
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Seed of the sampler: the same seed gives the same text.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: Args) -> Result<Status> {
    on_backend(&args.backend.clone(), args)
}

impl OnBackend for Args {
    /// Loads the model on `backend` and streams the generation.
    fn run<B: Backend>(self, backend: Arc<B>) -> Result<Status> {
        generate_on(backend, &self)
    }
}

fn generate_on<B: Backend>(backend: Arc<B>, args: &Args) -> Result<Status> {
    let tokenizer = Tokenizer::from_dir(&args.model)?;
    let prompt = match (&args.prompt, &args.chat) {
        (Some(text), None) => tokenizer.encode(text, true)?,
        (None, Some(message)) => {
            let template = ChatTemplate::from_dir(&args.model)?;
            // The template writes bos and every special token itself.
            tokenizer.encode(&template.render(&Chat::user(message))?, false)?
        }
        _ => bail!("give exactly one of --prompt and --chat"),
    };
    // The RoPE table and the KV pools cover only the positions this run can reach.
    let config = ModelConfig::from_dir(&args.model)?;
    let context = config.context().min(prompt.len() + args.max_tokens).max(1);
    let model = Model::load(backend, &args.model, Some(context))
        .with_context(|| format!("cannot load the model in {}", args.model.display()))?;
    let stop = StopTokens::from_dir(&args.model)?;
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), context)?;
    let options = GenerateOptions {
        max_tokens: args.max_tokens,
        sampling: SamplingParams {
            temperature: args.temperature,
            top_k: 0,
            top_p: args.top_p,
        },
        seed: args.seed,
        ..GenerateOptions::default()
    };

    let mut text = tokenizer.stream(true);
    let mut out = std::io::stdout().lock();
    let generation = generate(
        &model,
        &mut kv,
        &prompt,
        &stop,
        &options,
        |id| -> Result<()> {
            if let Some(piece) = text.push(id)? {
                out.write_all(piece.as_bytes())?;
                out.flush()?;
            }
            Ok(())
        },
    )?;
    writeln!(out)?;
    eprintln!("{}", report(&generation));
    Ok(Status::Ok)
}

/// Prefill and decode speed, and why generation stopped.
fn report(g: &Generation) -> String {
    let stop = match g.stop {
        StopReason::StopToken(id) => format!("stop token {id}"),
        StopReason::MaxTokens => "--max-tokens reached".to_owned(),
        StopReason::ContextFull => "context full".to_owned(),
    };
    format!(
        "prefill: {}\ndecode:  {}\nstopped: {stop}, {} tokens generated",
        rate(g.prompt_tokens, g.prefill_time),
        rate(g.decode_steps, g.decode_time),
        g.tokens.len()
    )
}

fn rate(tokens: usize, time: Duration) -> String {
    let seconds = time.as_secs_f64();
    let per_second = if seconds > 0.0 {
        format!("{:.1} tokens/s", tokens as f64 / seconds)
    } else {
        "n/a".to_owned()
    };
    format!(
        "{tokens} tokens in {:.1} ms ({per_second})",
        seconds * 1000.0
    )
}
