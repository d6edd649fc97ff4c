//! `harness fuzz`: fuzz/run.sh (each cargo-fuzz target for a bounded time), the inputs each
//! target ran read back from libFuzzer's last line as ledger entries.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, anyhow, ensure};
use fak_harness::cli::FuzzArgs;
use fak_harness::demos::fuzz::{FuzzResults, read};
use fak_harness::ledger::{Entry, Param};

use super::live::{Measured, write_entries};
use crate::Outcome;

pub const SCRIPT: &str = "fuzz/run.sh";

pub fn run(root: &Path, args: &FuzzArgs) -> Result<Outcome> {
    ensure!(args.seconds > 0, "--seconds must be at least 1");
    let results = tempfile::tempdir().context("cannot make a scratch directory")?;
    // Inherited output: the build and each target's last lines show as they happen.
    let status = Command::new("bash")
        .arg(root.join(SCRIPT))
        .arg(args.seconds.to_string())
        .env("FUZZ_RESULTS", results.path())
        .status()
        .with_context(|| format!("cannot start bash {SCRIPT}"))?;
    // The logs say why a run failed (which target crashed, which never ran) better than
    // the script's exit status does, so they are read first.
    let fuzz = read(results.path()).map_err(|e| {
        let e = anyhow!(e);
        if status.success() {
            e
        } else {
            e.context(format!("{SCRIPT} failed ({status})"))
        }
    })?;
    ensure!(status.success(), "{SCRIPT} failed ({status})");
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string));
    for r in &fuzz.runs {
        println!(
            "{}: {} runs in {} s, no crash",
            r.target, r.runs, r.elapsed_s
        );
    }
    if let Some(out) = &args.json {
        write_entries(out, &to_entries(&fuzz, args, load_average.as_deref()))?;
    }
    Ok(Outcome::Done)
}

/// One entry a target: the inputs it ran in its bounded time.
fn to_entries(fuzz: &FuzzResults, args: &FuzzArgs, load_average: Option<&str>) -> Vec<Entry> {
    let seconds = args.seconds;
    let command = format!("cargo run -p fak-harness -- fuzz --seconds {seconds}");
    let load = load_average.map_or(String::new(), |l| {
        format!("; load average {l} when the runs ended")
    });
    let note = args
        .note
        .as_ref()
        .map_or(String::new(), |n| format!("; {n}"));
    fuzz.runs
        .iter()
        .map(|r| {
            let method = format!(
                "{SCRIPT} {seconds}: `{}` ({}, RUSTC_BOOTSTRAP=1), from libFuzzer's last line \
                 (\"Done {} runs in {} second(s)\"), no crash; each run starts from the \
                 corpus earlier runs grew (fuzz/corpus, not committed){load}{note}",
                r.command, fuzz.toolchain, r.runs, r.elapsed_s
            );
            Measured {
                id: format!("fuzz.{}.runs", r.target),
                title: format!("Fuzz target {}: inputs run in {seconds} s", r.target),
                value: r.runs as f64,
                unit: "runs",
                baseline: None,
                method: &method,
                command: &command,
                params: vec![
                    ("study", Param::Text("fuzz".to_string())),
                    ("target", Param::Text(r.target.clone())),
                    ("max_total_time_s", Param::Number(seconds as f64)),
                    ("elapsed_s", Param::Number(r.elapsed_s as f64)),
                    ("toolchain", Param::Text(fuzz.toolchain.clone())),
                ],
            }
            .entry()
        })
        .collect()
}
