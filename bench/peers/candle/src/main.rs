//! The candle peer of `harness throughput`: prefill a prompt and greedily decode with
//! candle-transformers' qwen2 on the checkpoint's safetensors, on the CPU, in f16 (candle's
//! CPU matmul has no bf16).
//!
//! The protocol every peer follows (see harness/src/throughput/peer.rs): arguments
//! `--model DIR --tokens FILE --decode N --threads T`, where FILE is a JSON array of prompt
//! token ids; after one discarded warm-up call, one JSON object on standard output with the engine's name, the prompt and
//! decode token counts, the seconds each phase took and the peak resident set. The thread
//! count reaches candle through RAYON_NUM_THREADS, which the harness sets.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::qwen2::{Config, ModelForCausalLM};

struct Args {
    model: PathBuf,
    tokens: PathBuf,
    decode: usize,
    threads: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = std::env::args().skip(1);
    let (mut model, mut tokens, mut decode, mut threads) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value)),
            "--tokens" => tokens = Some(PathBuf::from(value)),
            "--decode" => decode = Some(value.parse().context("--decode")?),
            "--threads" => threads = Some(value.parse().context("--threads")?),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(Args {
        model: model.context("--model is required")?,
        tokens: tokens.context("--tokens is required")?,
        decode: decode.context("--decode is required")?,
        threads: threads.context("--threads is required")?,
    })
}

fn config(dir: &std::path::Path) -> Result<Config> {
    let text = std::fs::read_to_string(dir.join("config.json"))?;
    let mut json: serde_json::Value = serde_json::from_str(&text)?;
    // candle's Config wants a number; HF writes null when the window is off.
    if json["sliding_window"].is_null() {
        json["sliding_window"] = json["max_position_embeddings"].clone();
    }
    Ok(serde_json::from_value(json)?)
}

fn peak_rss_bytes() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmHWM without a value")?
        .parse()?;
    Ok(kib * 1024)
}

fn argmax(logits: &Tensor) -> Result<u32> {
    Ok(logits
        .flatten_all()?
        .to_dtype(DType::F32)?
        .argmax(0)?
        .to_scalar::<u32>()?)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if std::env::var("RAYON_NUM_THREADS").ok() != Some(args.threads.to_string()) {
        bail!("set RAYON_NUM_THREADS={} (candle's CPU thread count)", args.threads);
    }
    let prompt: Vec<u32> = serde_json::from_str(&std::fs::read_to_string(&args.tokens)?)?;
    let device = Device::Cpu;
    let cfg = config(&args.model)?;
    let weights = args.model.join("model.safetensors");
    // candle's CPU matmul takes f16, f32 and f64 but not bf16 (candle-core 0.9.2
    // cpu_backend: "unsupported dtype BF16 for op matmul"), so the bf16 weights are
    // converted to f16 at load: the same two bytes a weight, the nearest candle comes to
    // running this checkpoint as stored.
    // SAFETY: the checkpoint is not modified while it is mapped (candle's own contract).
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F16, &device)? };
    let mut model = ModelForCausalLM::new(&cfg, vb)?;

    // Warm-up, discarded: pages the mapped weights in.
    model.forward(&Tensor::new(&prompt[..1], &device)?.unsqueeze(0)?, 0)?;
    model.clear_kv_cache();

    let started = Instant::now();
    let input = Tensor::new(prompt.as_slice(), &device)?.unsqueeze(0)?;
    let mut next = argmax(&model.forward(&input, 0)?)?;
    let prefill_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for i in 0..args.decode {
        let input = Tensor::new(&[next], &device)?.unsqueeze(0)?;
        next = argmax(&model.forward(&input, prompt.len() + i)?)?;
    }
    let decode_seconds = started.elapsed().as_secs_f64();

    println!(
        "{}",
        serde_json::json!({
            "engine": "candle",
            "weights": "f16",
            "prompt_tokens": prompt.len(),
            "decode_tokens": args.decode,
            "prefill_seconds": prefill_seconds,
            "decode_seconds": decode_seconds,
            "peak_rss_bytes": peak_rss_bytes()?,
        })
    );
    Ok(())
}
