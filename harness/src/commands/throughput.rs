//! `harness throughput`: fak against its peers on one checkpoint, and `harness engine`,
//! fak's own side of the protocol the peers speak.

use anyhow::{Context, Result};
use fak_backends::BackendKind;
use fak_harness::cli::{EngineArgs, ThroughputArgs};
use fak_harness::ledger::{Baseline, Entry, Param, Provenance};
use fak_harness::throughput::bandwidth::read_bandwidth;
use fak_harness::throughput::peer::Peer;
use fak_harness::throughput::{EngineResult, Shape, engine, roofline_applies, run_rounds};
use fak_models::{Checkpoint, ModelConfig};

use super::live::{Measured, write_entries};
use crate::Outcome;

/// Passes over the bandwidth buffer, after the engines (a failing peer stops the run
/// before a gigabyte is spent on it); the best one counts.
const BANDWIDTH_PASSES: usize = 5;

pub fn engine(args: &EngineArgs) -> Result<Outcome> {
    let report = engine::run(
        &args.model,
        &args.tokens,
        args.decode,
        args.threads,
        args.backend,
    )?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(Outcome::Done)
}

pub fn run(args: &ThroughputArgs) -> Result<Outcome> {
    let shape = Shape {
        prompt_tokens: args.prompt,
        decode_tokens: args.decode,
        threads: args.threads,
        rounds: args.rounds,
    };
    let fak = Peer {
        name: "fak".to_string(),
        program: std::env::current_exe().context("cannot find the harness binary to run fak")?,
        args: vec![
            "engine".to_string(),
            "--backend".to_string(),
            args.backend.to_string(),
        ],
        model: args.model.clone(),
    };
    let mut engines = vec![fak];
    for spec in &args.peers {
        engines.push(Peer::parse(spec, &args.model)?);
    }
    let weight_bytes = decode_weight_bytes(&args.model)?;
    let scratch = tempfile::tempdir()?;
    let results = run_rounds(&engines, &shape, scratch.path(), |round, engine, r| {
        eprintln!(
            "round {}/{}: {:<22} prefill {:>8.1} tok/s  decode {:>6.2} tok/s",
            round + 1,
            shape.rounds,
            engine.name,
            r.prompt_tokens as f64 / r.prefill_seconds,
            r.decode_tokens as f64 / r.decode_seconds
        );
    })?;
    let bound = if args.backend == BackendKind::Cpu {
        eprintln!("read bandwidth on {} threads ...", args.threads);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .build()?;
        let bandwidth = read_bandwidth(&pool, BANDWIDTH_PASSES);
        Some(Roofline {
            bandwidth,
            tokens_per_second: bandwidth / weight_bytes as f64,
        })
    } else {
        None
    };
    print_table(
        &results,
        &args.baseline,
        &shape,
        weight_bytes,
        bound.as_ref(),
    );
    if let Some(out) = &args.json {
        let study = Study {
            args,
            shape: &shape,
            weight_bytes,
            bound,
        };
        write_entries(out, &study.entries(&results))?;
    }
    Ok(Outcome::Done)
}

/// Bytes of the checkpoint as stored that a decode step reads: every tensor, less the
/// embedding table when it is not also the output projection (a step gathers one row of
/// it). For a quantized file these are its blocks' bytes, what llama.cpp reads.
fn decode_weight_bytes(model: &std::path::Path) -> Result<usize> {
    let config = ModelConfig::from_dir(model)?;
    let checkpoint = Checkpoint::open(model)
        .with_context(|| format!("cannot open the checkpoint {}", model.display()))?;
    let embedding = if config.tie_word_embeddings {
        0
    } else {
        checkpoint
            .tensor_bytes("model.embed_tokens.weight")
            .unwrap_or(0)
    };
    Ok(checkpoint.weight_bytes() - embedding)
}

/// Decode's bound on the CPU: the machine's read bandwidth over the weight bytes a token
/// reads.
struct Roofline {
    bandwidth: f64,
    tokens_per_second: f64,
}

fn print_table(
    results: &[EngineResult],
    baseline_name: &str,
    shape: &Shape,
    weight_bytes: usize,
    bound: Option<&Roofline>,
) {
    println!(
        "{} prompt tokens, {} decoded, {} threads, median of {} rounds",
        shape.prompt_tokens, shape.decode_tokens, shape.threads, shape.rounds
    );
    match bound {
        Some(b) => println!(
            "read bandwidth {:.1} GB/s; decode reads {:.3} GB of weights per token: roofline {:.1} tok/s",
            b.bandwidth / 1e9,
            weight_bytes as f64 / 1e9,
            b.tokens_per_second
        ),
        None => println!(
            "decode reads {:.3} GB of weights per token; no roofline off the CPU",
            weight_bytes as f64 / 1e9
        ),
    }
    let baseline = results.iter().find(|r| r.name == baseline_name);
    println!(
        "{:<22} {:>11} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "engine", "prefill/s", "vs base", "decode/s", "vs base", "roofline", "peak GB", "/weights"
    );
    for r in results {
        let vs = |mine: f64, theirs: Option<f64>| {
            theirs.map_or("-".to_string(), |t| format!("{:.2}x", mine / t))
        };
        let (prefill, decode) = (
            r.prefill_tokens_per_second(shape),
            r.decode_tokens_per_second(shape),
        );
        let of_roofline = match bound {
            Some(b) if roofline_applies(&r.weights) => {
                format!("{:.0}%", 100.0 * decode / b.tokens_per_second)
            }
            _ => "-".to_string(),
        };
        println!(
            "{:<22} {:>11.1} {:>10} {:>10.2} {:>10} {:>10} {:>9.3} {:>8.2}x",
            r.name,
            prefill,
            vs(
                prefill,
                baseline.map(|b| b.prefill_tokens_per_second(shape))
            ),
            decode,
            vs(decode, baseline.map(|b| b.decode_tokens_per_second(shape))),
            of_roofline,
            r.peak_rss_bytes as f64 / 1e9,
            r.peak_rss_bytes as f64 / weight_bytes as f64
        );
    }
    if baseline.is_none() {
        println!("(no peer named \"{baseline_name}\": ratios need it)");
    }
}

/// The run's context, for its ledger entries.
struct Study<'a> {
    args: &'a ThroughputArgs,
    shape: &'a Shape,
    weight_bytes: usize,
    /// Only for a CPU run.
    bound: Option<Roofline>,
}

impl Study<'_> {
    fn command(&self) -> String {
        let mut c = format!(
            "cargo run --release -p fak-harness -- throughput --model {} --prompt {} --decode {} --threads {} --rounds {} --baseline \"{}\"",
            self.args.model.display(),
            self.shape.prompt_tokens,
            self.shape.decode_tokens,
            self.shape.threads,
            self.shape.rounds,
            self.args.baseline
        );
        if self.args.backend != BackendKind::Cpu {
            c.push_str(&format!(" --backend {}", self.args.backend));
        }
        if let Some(note) = &self.args.note {
            c.push_str(&format!(" --note \"{note}\""));
        }
        if let Some(study) = &self.args.study {
            c.push_str(&format!(" --study {study}"));
        }
        for p in &self.args.peers {
            c.push_str(&format!(" --peer \"{p}\""));
        }
        c
    }

    fn method(&self) -> String {
        let mut m = format!(
            "{} ({:.3} GB of weights read per decoded token); fak on its {} backend; each \
             engine a fresh process given the same {} prompt token ids, prefilled in one call \
             (first token's logits included), then {} greedy one-token decode calls; {} \
             threads each; engines run round-robin, median of {} rounds; peers built by \
             bench/peers/setup.sh",
            self.args.model.display(),
            self.weight_bytes as f64 / 1e9,
            self.args.backend,
            self.shape.prompt_tokens,
            self.shape.decode_tokens,
            self.shape.threads,
            self.shape.rounds
        );
        if let Some(note) = &self.args.note {
            m.push_str(&format!("; {note}"));
        }
        m
    }

    /// `throughput.REST`, or `throughput.STUDY.REST` for a named study.
    fn id(&self, rest: &str) -> String {
        match &self.args.study {
            None => format!("throughput.{rest}"),
            Some(study) => format!("throughput.{study}.{rest}"),
        }
    }

    /// `name`, or `name.STUDY` for a named study.
    fn study(&self, name: &str) -> String {
        match &self.args.study {
            None => name.to_string(),
            Some(study) => format!("{name}.{study}"),
        }
    }

    fn entries(&self, results: &[EngineResult]) -> Vec<Entry> {
        let (command, method) = (self.command(), self.method());
        let baseline_name = &self.args.baseline;
        let baseline = results.iter().find(|r| &r.name == baseline_name);
        let mut out = Vec::new();
        for (phase, study, rate) in [
            (
                "prefill",
                "prefill_throughput",
                EngineResult::prefill_tokens_per_second as fn(&EngineResult, &Shape) -> f64,
            ),
            (
                "decode",
                "decode_throughput",
                EngineResult::decode_tokens_per_second,
            ),
        ] {
            let id = |name: &str| self.id(&format!("{phase}.{}", slug(name)));
            for r in results {
                let base = baseline.filter(|b| b.name != r.name).map(|b| Baseline {
                    what: format!("{baseline_name} {phase}, same run"),
                    value: rate(b, self.shape),
                    entry: Some(id(&b.name)),
                });
                out.push(
                    Measured {
                        id: id(&r.name),
                        title: format!("{phase} throughput, {}", r.name),
                        value: rate(r, self.shape),
                        unit: "tokens/s",
                        baseline: base,
                        method: &method,
                        command: &command,
                        params: vec![
                            ("study", Param::Text(self.study(study))),
                            ("engine", Param::Text(r.name.clone())),
                            ("weights", Param::Text(r.weights.clone())),
                        ],
                    }
                    .entry(),
                );
            }
        }
        if let Some(bound) = &self.bound {
            out.extend(self.roofline_entries(bound, &method, &command));
        }
        for r in results {
            out.push(
                Measured {
                    id: self.id(&format!("peak_rss.{}", slug(&r.name))),
                    title: format!("peak resident memory, {}", r.name),
                    value: r.peak_rss_bytes as f64,
                    unit: "bytes",
                    baseline: Some(Baseline {
                        what: "the checkpoint's weight bytes read per decoded token".to_string(),
                        value: self.weight_bytes as f64,
                        entry: None,
                    }),
                    method: &method,
                    command: &command,
                    params: vec![
                        ("study", Param::Text(self.study("throughput.peak_rss"))),
                        ("engine", Param::Text(r.name.clone())),
                    ],
                }
                .entry(),
            );
        }
        out
    }
}

impl Study<'_> {
    /// The roofline and the bandwidth it was drawn from (a CPU run only).
    fn roofline_entries(&self, bound: &Roofline, method: &str, command: &str) -> Vec<Entry> {
        let mut roofline = Measured {
            id: self.id("decode.roofline"),
            title: "decode roofline: read bandwidth / weight bytes per token".to_string(),
            value: bound.tokens_per_second,
            unit: "tokens/s",
            baseline: None,
            method,
            command,
            params: vec![
                ("study", Param::Text(self.study("decode_throughput"))),
                ("engine", Param::Text("roofline".to_string())),
            ],
        }
        .entry();
        roofline.provenance = Provenance::Modeled;
        let bandwidth = Measured {
            id: self.id("bandwidth"),
            title: format!("memory read bandwidth, {} threads", self.shape.threads),
            value: bound.bandwidth / 1e9,
            unit: "GB/s",
            baseline: None,
            method: "best of 5 passes over a 1 GiB buffer, right after the engines",
            command,
            params: vec![("study", Param::Text(self.study("throughput.bandwidth")))],
        }
        .entry();
        vec![roofline, bandwidth]
    }
}

/// An engine name as an id segment: "llama.cpp bf16" -> "llama_cpp_bf16".
fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('_') {
            s.push('_');
        }
    }
    s.trim_matches('_').to_string()
}
