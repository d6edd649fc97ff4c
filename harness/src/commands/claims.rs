//! `harness claims --check`.

use std::path::Path;

use anyhow::Result;
use fak_harness::claims;

use crate::Outcome;

pub fn run(root: &Path) -> Result<Outcome> {
    let report = claims::check(root)?;
    for p in &report.problems {
        eprintln!("{}: {}", p.place, p.message);
    }
    println!(
        "claims: {} capability lines, {} witnesses, {} problems",
        report.lines,
        report.witnesses,
        report.problems.len()
    );
    Ok(if report.problems.is_empty() {
        Outcome::Done
    } else {
        Outcome::CheckFailed
    })
}
