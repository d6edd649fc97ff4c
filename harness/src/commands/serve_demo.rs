//! `harness serve-demo`: the in-kernel `fak serve` demo over a few runs, each request's
//! usage and wall time.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use fak_harness::cli::ServeDemoArgs;
use fak_harness::criterion_import::id_segment;
use fak_harness::demos::serve::{DemoSummary, parse_run, summarise};
use fak_harness::demos::stdout_of;
use fak_harness::ledger::{Entry, Param};

use super::live::{Measured, fak_binary, range_params, write_entries};
use crate::Outcome;

pub const DEMO: &str = "gateway/examples/in_kernel_demo.sh";

pub fn run(root: &Path, args: &ServeDemoArgs) -> Result<Outcome> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    let fak = std::path::absolute(fak_binary(root, args.fak.as_deref()))?;
    let scratch = tempfile::tempdir().context("cannot make a scratch directory")?;
    let mut runs = Vec::with_capacity(args.runs);
    for i in 0..args.runs {
        let file = scratch.path().join(format!("run{i}.jsonl"));
        let stdout = stdout_of(
            Command::new("bash")
                .arg(root.join(DEMO))
                .env("FAK", &fak)
                .env("DEMO_JSON", &file),
        )?;
        print!("run {}:\n{stdout}", i + 1);
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("the demo wrote no {}", file.display()))?;
        runs.push(parse_run(&text)?);
    }
    let summary = summarise(&runs)?;
    if let Some(out) = &args.json {
        write_entries(out, &to_entries(&summary, args.runs))?;
    }
    Ok(Outcome::Done)
}

/// One entry a request (its median wall time, its usage in the params), and the server's
/// resident set after start-up.
fn to_entries(summary: &DemoSummary, runs: usize) -> Vec<Entry> {
    let command = format!(
        "cargo build --release -p fak && cargo run --release -p fak-harness -- serve-demo --runs {runs}"
    );
    let method = format!(
        "{DEMO}: fak serve in-kernel on the committed qwen3 test model (cpu), greedy, curl's \
         time_total over loopback per request, VmRSS once the server is ready, a fresh server \
         each run; median of {runs} runs"
    );
    let study = || ("study", Param::Text("serve.in_kernel".to_string()));
    let mut params = vec![study()];
    params.extend(range_params(&summary.rss_after_start_kib, runs));
    let rss = Measured {
        id: "serve.in_kernel.rss_after_start".to_string(),
        title: "fak serve in-kernel: resident set after start-up (default KV budget)".to_string(),
        value: summary.rss_after_start_kib.median,
        unit: "KiB",
        baseline: None,
        method: &method,
        command: &command,
        params,
    }
    .entry();
    let requests = summary.requests.iter().map(|r| {
        let q = &r.request;
        let mut params = vec![
            study(),
            ("request", Param::Text(q.request.clone())),
            ("question", Param::Text(q.question.clone())),
            ("prompt_tokens", Param::Number(q.prompt_tokens as f64)),
            ("cached_tokens", Param::Number(q.cached_tokens as f64)),
            (
                "completion_tokens",
                Param::Number(q.completion_tokens as f64),
            ),
        ];
        params.extend(range_params(&r.ms, runs));
        Measured {
            id: format!("serve.in_kernel.time.{}", id_segment(&q.request)),
            title: format!(
                "fak serve in-kernel, {} request: \"{}\" ({} prompt tokens, {} cached)",
                q.request, q.question, q.prompt_tokens, q.cached_tokens
            ),
            value: r.ms.median,
            unit: "ms",
            baseline: None,
            method: &method,
            command: &command,
            params,
        }
        .entry()
    });
    std::iter::once(rss).chain(requests).collect()
}
