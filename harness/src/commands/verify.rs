//! `harness verify [--backend B...] [--json OUT]`.

use std::path::Path;

use anyhow::{Context, Result};
use fak_backends::BackendKind;
use fak_harness::cli::VerifyArgs;
use fak_harness::criterion_import::id_segment;
use fak_harness::ledger::{Entry, Param};
use fak_harness::verify::{self, Availability, FIXTURES_PATH, KV_FIXTURE, Row, Verdict};
use serde::Serialize;

use super::live::{Measured, write_entries};
use crate::Outcome;

/// The `--json` document.
#[derive(Serialize)]
struct Report<'a> {
    /// The fixture the KV gates ran on.
    kv_fixture: &'a str,
    rows: &'a [Row],
}

pub fn run(root: &Path, args: &VerifyArgs) -> Result<Outcome> {
    let require_vulkan = std::env::var_os("FAK_REQUIRE_VULKAN").is_some();
    let backends = verify::choose(&args.backends, require_vulkan);
    for (kind, availability) in &backends {
        match availability {
            Availability::Open(b) => println!("{kind}: {}", b.device().name),
            Availability::NotSelected => println!("{kind}: not selected"),
            Availability::Missing { reason, .. } => println!("{kind}: missing ({reason})"),
        }
    }
    println!("KV gates on the {KV_FIXTURE} fixture; PASS means every bit equal (max|Δ| = 0)\n");
    let rows = verify::run(&backends, &root.join(FIXTURES_PATH), &mut |gate| {
        eprintln!("verify: {gate}");
    })?;
    print!("{}", verify::render(&rows));
    if let Some(out) = &args.json {
        let report = Report {
            kv_fixture: KV_FIXTURE,
            rows: &rows,
        };
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(out, text + "\n").with_context(|| format!("writing {}", out.display()))?;
    }
    if let Some(out) = &args.ledger {
        let devices: Vec<(BackendKind, String)> = backends
            .iter()
            .filter_map(|(kind, a)| match a {
                Availability::Open(b) => Some((*kind, b.device().name.clone())),
                _ => None,
            })
            .collect();
        write_entries(out, &to_entries(&rows, &args.backends, &devices))?;
    }
    Ok(if rows.iter().any(|r| r.result == Verdict::Fail) {
        Outcome::CheckFailed
    } else {
        Outcome::Done
    })
}

/// Each gate that ran, as a MEASURED ledger entry whose value is its max|Δ|, with what
/// it compared, how many values, and the device it ran on (README's parity table reads
/// them).
fn to_entries(
    rows: &[Row],
    backends: &[BackendKind],
    devices: &[(BackendKind, String)],
) -> Vec<Entry> {
    let mut command = "cargo run --release -p fak-harness -- verify".to_string();
    for b in backends {
        command.push_str(&format!(" --backend {b}"));
    }
    rows.iter()
        .filter_map(|r| {
            let delta = r.max_abs_delta?;
            let device = devices
                .iter()
                .find(|(kind, _)| *kind == r.backend)
                .map_or_else(|| r.backend.to_string(), |(_, name)| name.clone());
            let slug = id_segment(&r.gate);
            let method = format!(
                "{}: {} values compared bit for bit ({})",
                r.compared,
                r.values,
                r.result.label()
            );
            Some(
                Measured {
                    id: format!("parity.{slug}.{}", r.backend),
                    title: format!("Parity gate {}, {}", r.gate, r.backend),
                    value: delta,
                    unit: "max|Δ|",
                    baseline: None,
                    method: &method,
                    command: &command,
                    params: vec![
                        ("study", Param::Text("parity".to_string())),
                        ("gate", Param::Text(r.gate.clone())),
                        ("backend", Param::Text(r.backend.to_string())),
                        ("compared", Param::Text(r.compared.clone())),
                        ("values", Param::Number(r.values as f64)),
                        ("result", Param::Text(r.result.label().to_string())),
                        ("device", Param::Text(device.clone())),
                    ],
                }
                .entry(),
            )
        })
        .collect()
}
