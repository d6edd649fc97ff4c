//! `harness readme [--check]`: README.md's generated tables, from the ledger.

use std::path::Path;

use anyhow::{Context, Result};
use fak_harness::cli::CheckArgs;
use fak_harness::ledger::{LEDGER_PATH, Ledger};
use fak_harness::readme::{README_PATH, render};

use super::generated::write_or_check;
use crate::Outcome;

pub fn run(root: &Path, args: &CheckArgs) -> Result<Outcome> {
    let ledger = Ledger::load(&root.join(LEDGER_PATH))?;
    let path = root.join(README_PATH);
    let committed =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    write_or_check(
        &path,
        &render(&committed, &ledger)?,
        args.check,
        "the ledger tables",
        "harness readme",
    )
}
