//! `harness fleet`: the three context policies run live, with the geometry beside them.

use std::path::Path;

use anyhow::Result;
use fak_harness::cli::FleetArgs;
use fak_harness::fleet::{ArmRun, FleetShape, run_fleet};
use fak_harness::ledger::{Baseline, Entry, Param};
use fak_harness::webbench::policy::Policy;

use super::live::{Measured, load_model, write_entries};
use crate::Outcome;

pub fn run(root: &Path, args: &FleetArgs) -> Result<Outcome> {
    let shape = FleetShape {
        prefix: args.prefix,
        turns: args.turns,
        history: args.history,
    };
    let (dir, model) = load_model(root, args.model.as_deref(), shape.context())?;
    println!(
        "fleet over {}: P = {} prefix tokens, T = {} turns, h = {} tokens per later turn (cpu)",
        dir.display(),
        shape.prefix,
        shape.turns,
        shape.history
    );
    println!(
        "{:>6}  {:<22} {:>12} {:>12} {:>9} {:>10} {:>9}",
        "agents", "policy", "computed", "geometry", "vs naive", "seconds", "vs naive"
    );
    let mut all = Vec::new();
    for &agents in &args.agents {
        eprintln!("running {agents} agent(s)...");
        let runs = run_fleet(&model, shape, agents)?;
        let naive = &runs[0];
        for r in &runs {
            println!(
                "{:>6}  {:<22} {:>12} {:>12} {:>8.2}x {:>10.3} {:>8.2}x",
                r.agents,
                r.policy.label(),
                r.computed,
                r.predicted,
                r.computed as f64 / naive.computed as f64,
                r.seconds,
                r.seconds / naive.seconds
            );
        }
        all.extend(runs);
    }
    println!("every agent's final logits are the same bits under all three policies");
    if let Some(out) = &args.json {
        let command = format!(
            "cargo run --release -p fak-harness -- fleet --agents {} --prefix {} --turns {} --history {}",
            args.agents
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(","),
            shape.prefix,
            shape.turns,
            shape.history
        );
        write_entries(out, &to_entries(&all, shape, &command, &dir))?;
    }
    Ok(Outcome::Done)
}

/// Prefill positions and wall time per policy and fleet size, each against naive.
fn to_entries(runs: &[ArmRun], shape: FleetShape, command: &str, model: &Path) -> Vec<Entry> {
    let method = format!(
        "live fleet on the in-kernel model ({}), CPU backend: P = {}, T = {}, h = {}; \
         positions counted from the forward pass",
        model.display(),
        shape.prefix,
        shape.turns,
        shape.history
    );
    let mut out = Vec::new();
    for r in runs {
        let naive = runs
            .iter()
            .find(|n| n.agents == r.agents && n.policy == Policy::Naive)
            .unwrap_or(r);
        for (what, title, unit, value, base) in [
            (
                "prefill",
                "Prefill positions computed",
                "tokens",
                r.computed as f64,
                naive.computed as f64,
            ),
            ("seconds", "Wall time", "s", r.seconds, naive.seconds),
        ] {
            let id = |p: Policy| format!("fleet.live.{what}.{}.w{}", p.key(), r.agents);
            let baseline = (r.policy != Policy::Naive).then(|| Baseline {
                what: format!("naive re-prefill, fleet of {}", r.agents),
                value: base,
                entry: Some(id(Policy::Naive)),
            });
            out.push(
                Measured {
                    id: id(r.policy),
                    title: format!("{title}, {}, live fleet of {}", r.policy.label(), r.agents),
                    value,
                    unit,
                    baseline,
                    method: &method,
                    command,
                    params: vec![
                        ("study", Param::Text(format!("fleet.live.{what}"))),
                        ("policy", Param::Text(r.policy.key().to_string())),
                        ("workers", Param::Number(r.agents as f64)),
                    ],
                }
                .entry(),
            );
        }
    }
    out
}
