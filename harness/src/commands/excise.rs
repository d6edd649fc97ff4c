//! `harness excise`: excision cost against span position, beside a cold re-prefill.

use std::path::Path;

use anyhow::Result;
use fak_harness::cli::ExciseArgs;
use fak_harness::excision::{ExcisionRun, run_excisions};
use fak_harness::ledger::{Baseline, Entry, Param};

use super::live::{Measured, load_model, write_entries};
use crate::Outcome;

pub fn run(root: &Path, args: &ExciseArgs) -> Result<Outcome> {
    let (dir, model) = load_model(root, args.model.as_deref(), args.length)?;
    println!(
        "excision over {}: a {}-token span cut from a {}-token session (cpu, median of {})",
        dir.display(),
        args.span,
        args.length,
        args.repeats
    );
    println!(
        "{:>8} {:>10} {:>10} {:>12} {:>12} {:>8} {:>15}",
        "position", "excise", "cold", "excise ms", "cold ms", "speedup", "(L-s)/(L-p-s)"
    );
    let runs = run_excisions(
        &model,
        args.length,
        args.span,
        &args.positions,
        args.repeats,
    )?;
    for r in &runs {
        let predicted = (args.length - args.span) as f64 / r.excise_computed as f64;
        println!(
            "{:>8} {:>10} {:>10} {:>12.2} {:>12.2} {:>7.2}x {:>14.2}x",
            r.position,
            r.excise_computed,
            r.cold_computed,
            r.excise_seconds * 1e3,
            r.cold_seconds * 1e3,
            r.cold_seconds / r.excise_seconds,
            predicted
        );
    }
    println!("every excision equals its cold run bit for bit (max|Δ| = 0)");
    println!(
        "positions computed follow (L-s)/(L-p-s) exactly; time falls short of it because a \
         late suffix attends over a longer context than the cold run's average position"
    );
    if let Some(out) = &args.json {
        write_entries(out, &to_entries(&runs, args, &dir))?;
    }
    Ok(Outcome::Done)
}

/// Positions computed and median time per span position, excision against cold.
fn to_entries(runs: &[ExcisionRun], args: &ExciseArgs, model: &Path) -> Vec<Entry> {
    let positions: Vec<String> = args.positions.iter().map(usize::to_string).collect();
    let command = format!(
        "cargo run --release -p fak-harness -- excise --length {} --span {} --positions {} --repeats {}",
        args.length,
        args.span,
        positions.join(","),
        args.repeats
    );
    let method = format!(
        "a {}-token span cut from a {}-token session on the in-kernel model ({}), CPU \
         backend, against a cold prefill of the edited tokens; times are medians of {}",
        args.span,
        args.length,
        model.display(),
        args.repeats
    );
    let mut out = Vec::new();
    for r in runs {
        for (what, unit, excise, cold) in [
            (
                "cost",
                "tokens",
                r.excise_computed as f64,
                r.cold_computed as f64,
            ),
            ("time", "s", r.excise_seconds, r.cold_seconds),
        ] {
            let id = |arm: &str| format!("excision.{what}.{arm}.p{}", r.position);
            for (arm, value) in [("cold", cold), ("excise", excise)] {
                let baseline = (arm == "excise").then(|| Baseline {
                    what: format!("cold re-prefill, span at {}", r.position),
                    value: cold,
                    entry: Some(id("cold")),
                });
                out.push(
                    Measured {
                        id: id(arm),
                        title: format!("Excision {what}, {arm}, span at position {}", r.position),
                        value,
                        unit,
                        baseline,
                        method: &method,
                        command: &command,
                        params: vec![
                            ("study", Param::Text(format!("excision.{what}"))),
                            ("arm", Param::Text(arm.to_string())),
                            ("span_position", Param::Number(r.position as f64)),
                        ],
                    }
                    .entry(),
                );
            }
        }
    }
    out
}
