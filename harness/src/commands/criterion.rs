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
        println!(
            "{:<24} {:<10} {:<12} {:>14.1} ns",
            r.group, r.function, r.value, r.median_ns
        );
    }
    write_entries(&args.json, &to_entries(&results, args))?;
    Ok(Outcome::Done)
}

fn id_of(r: &BenchResult) -> String {
    let mut id = format!("bench.{}", id_segment(&r.group));
    for part in [&r.function, &r.value] {
        if !part.is_empty() {
            id.push('.');
            id.push_str(&id_segment(part));
        }
    }
    id
}

/// One entry a benchmark, against its `--baseline-function` sibling when there is one.
fn to_entries(results: &[BenchResult], args: &CriterionArgs) -> Vec<Entry> {
    let method = "criterion median over the run's samples".to_string();
    results
        .iter()
        .map(|r| {
            let baseline = args.baseline_function.as_ref().and_then(|f| {
                let base = results.iter().find(|b| {
                    &b.function == f && b.group == r.group && b.value == r.value && b != &r
                })?;
                Some(Baseline {
                    what: format!("{} {} {}", base.group, base.function, base.value),
                    value: base.median_ns,
                    entry: Some(id_of(base)),
                })
            });
            Measured {
                id: id_of(r),
                title: format!("{} {} {}", r.group, r.function, r.value),
                value: r.median_ns,
                unit: "ns",
                baseline,
                method: &method,
                command: &args.command,
                params: vec![
                    ("study", Param::Text(format!("bench.{}", r.group))),
                    ("function", Param::Text(r.function.clone())),
                    ("param", Param::Text(r.value.clone())),
                ],
            }
            .entry()
        })
        .collect()
}
