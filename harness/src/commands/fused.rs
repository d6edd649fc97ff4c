//! `harness fused`: the fused agent's late revocation, timed over a few runs of
//! `fak agent --offline --fused --revoke TOOL --json`.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, ensure};
use fak_harness::cli::FusedArgs;
use fak_harness::demos::fused::{RevokeSummary, parse_run, summarise};
use fak_harness::demos::stdout_of;
use fak_harness::ledger::{Baseline, Entry, Param};
use fak_harness::spread::Spread;

use super::live::{Measured, fak_binary, range_params, write_entries};
use crate::Outcome;

pub fn run(root: &Path, args: &FusedArgs) -> Result<Outcome> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    let fak = fak_binary(root, args.fak.as_deref());
    let mut runs = Vec::with_capacity(args.runs);
    for i in 0..args.runs {
        let stdout = stdout_of(
            Command::new(&fak)
                .current_dir(root)
                .args(["agent", "--offline", "--fused", "--json", "--task"])
                .arg(&args.task)
                .arg("--revoke")
                .arg(&args.revoke),
        )?;
        let run = parse_run(&stdout)?;
        println!(
            "run {}: excise {:.2} ms ({} tokens), cold rebuild and byte compare {:.2} ms ({} tokens), exact: {}",
            i + 1,
            run.excise_ms,
            run.recomputed,
            run.cold_rebuild_and_compare_ms,
            run.cold_rebuild_tokens,
            run.exact
        );
        runs.push(run);
    }
    let summary = summarise(&runs)?;
    println!(
        "median of {}: excise {:.2} ms, cold rebuild and byte compare {:.2} ms",
        summary.runs, summary.excise_ms.median, summary.cold_ms.median
    );
    if let Some(out) = &args.json {
        write_entries(out, &to_entries(&summary, args))?;
    }
    Ok(Outcome::Done)
}

/// The excision's time against the cold rebuild's, each with the tokens it computed.
fn to_entries(s: &RevokeSummary, args: &FusedArgs) -> Vec<Entry> {
    let command = format!(
        "cargo build --release -p fak && cargo run --release -p fak-harness -- fused --task {} --revoke {} --runs {}",
        args.task, args.revoke, args.runs
    );
    let method = format!(
        "fak agent --offline --task {} --fused --revoke {} --json, CPU backend, the committed \
         llama3 fixture: {}'s span excised ({} tokens kept, {} recomputed) against a cold \
         rebuild of the edited {} tokens with the compare of {} KV values; median of {} runs",
        args.task,
        args.revoke,
        s.run.tool,
        s.run.kept,
        s.run.recomputed,
        s.run.cold_rebuild_tokens,
        s.run.kv_values,
        s.runs
    );
    let cold_id = "fused.revoke.time.cold_rebuild".to_string();
    let arm = |id: &str, title: &str, spread: &Spread, tokens: u64, baseline| {
        let mut params = vec![
            ("study", Param::Text("fused.revoke".to_string())),
            ("task", Param::Text(args.task.clone())),
            ("tool", Param::Text(s.run.tool.clone())),
            ("tokens", Param::Number(tokens as f64)),
        ];
        params.extend(range_params(spread, s.runs));
        Measured {
            id: id.to_string(),
            title: title.to_string(),
            value: spread.median,
            unit: "ms",
            baseline,
            method: &method,
            command: &command,
            params,
        }
        .entry()
    };
    vec![
        arm(
            &cold_id,
            "Fused agent, late revocation: cold rebuild and byte compare",
            &s.cold_ms,
            s.run.cold_rebuild_tokens,
            None,
        ),
        arm(
            "fused.revoke.time.excise",
            "Fused agent, late revocation: excision of the revoked span",
            &s.excise_ms,
            s.run.recomputed,
            Some(Baseline {
                what: "the cold rebuild and byte compare".to_string(),
                value: s.cold_ms.median,
                entry: Some(cold_id.clone()),
            }),
        ),
    ]
}
