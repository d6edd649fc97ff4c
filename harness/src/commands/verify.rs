//! `harness verify [--backend B...] [--json OUT]`.

use std::path::Path;

use anyhow::{Context, Result};
use fak_harness::cli::VerifyArgs;
use fak_harness::verify::{self, Availability, FIXTURES_PATH, KV_FIXTURE, Row, Verdict};
use serde::Serialize;

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
    Ok(if rows.iter().any(|r| r.result == Verdict::Fail) {
        Outcome::CheckFailed
    } else {
        Outcome::Done
    })
}
