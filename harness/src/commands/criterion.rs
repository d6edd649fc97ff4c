//! `harness criterion`: the medians of a `cargo bench` run as ledger entries.

use std::path::Path;

use anyhow::Result;
use fak_harness::cli::CriterionArgs;
use fak_harness::criterion_import::{BenchResult, id_segment, read_group};
use fak_harness::ledger::{Baseline, Entry, Param};

use super::live::{Measured, write_entries};
use crate::Outcome;

pub fn run(root: &Path, args: &CriterionArgs) -> Result<Outcome> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| root.join("target/criterion"));
    let mut results = Vec::new();
    for group in &args.groups {
        results.extend(read_group(&dir, group)?);
    }
    for r in &results {
        let (value, unit) = published(r);
        println!("{:<64} {value:>16.1} {unit}", title_of(r));
    }
    write_entries(&args.json, &to_entries(&results, args))?;
    Ok(Outcome::Done)
}

/// The group, function and parameter a benchmark is named by, leaving out empty ones.
fn name_parts(r: &BenchResult) -> impl Iterator<Item = &str> {
    [&r.group, &r.function, &r.value]
        .into_iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
}

fn id_of(r: &BenchResult) -> String {
    let segments: Vec<String> = name_parts(r).map(id_segment).collect();
    format!("bench.{}", segments.join("."))
}

fn title_of(r: &BenchResult) -> String {
    name_parts(r).collect::<Vec<_>>().join(" ")
}

/// What an entry publishes: the median time, or for a bench that declares its bytes per
/// iteration, the rate at the median time.
fn published(r: &BenchResult) -> (f64, &'static str) {
    r.mib_per_s()
        .map_or((r.median_ns, "ns"), |rate| (rate, "MiB/s"))
}

/// One entry a benchmark, against its `--baseline-function` sibling when there is one.
fn to_entries(results: &[BenchResult], args: &CriterionArgs) -> Vec<Entry> {
    results
        .iter()
        .map(|r| {
            let (value, unit) = published(r);
            let baseline = args.baseline_function.as_ref().and_then(|f| {
                let base = results.iter().find(|b| {
                    &b.function == f && b.group == r.group && b.value == r.value && b != &r
                })?;
                Some(Baseline {
                    what: title_of(base),
                    value: published(base).0,
                    entry: Some(id_of(base)),
                })
            });
            let mut params = vec![
                ("study", Param::Text(format!("bench.{}", r.group))),
                ("function", Param::Text(r.function.clone())),
                ("param", Param::Text(r.value.clone())),
            ];
            let mut method = match r.bytes {
                Some(bytes) => {
                    params.push(("bytes", Param::Number(bytes as f64)));
                    params.push(("median_ns", Param::Number(r.median_ns)));
                    "criterion median over the run's samples; MiB/s = bytes per iteration / median time"
                }
                None => "criterion median over the run's samples",
            }
            .to_string();
            if let Some(note) = &args.note {
                method.push_str(&format!("; {note}"));
            }
            Measured {
                id: id_of(r),
                title: title_of(r),
                value,
                unit,
                baseline,
                method: &method,
                command: &args.command,
                params,
            }
            .entry()
        })
        .collect()
}
