//! `harness readme [--check]`: README.md's generated tables, from the ledger.

use std::path::Path;

use anyhow::{Context, Result};
use fak_harness::cli::CheckArgs;
use fak_harness::ledger::{LEDGER_PATH, Ledger};
use fak_harness::readme::{README_PATH, render};

use crate::Outcome;

pub fn run(root: &Path, args: &CheckArgs) -> Result<Outcome> {
    let ledger = Ledger::load(&root.join(LEDGER_PATH))?;
    let path = root.join(README_PATH);
    let committed =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let fresh = render(&committed, &ledger)?;
    if args.check {
        if committed == fresh {
            println!("readme: the tables in {} match the ledger", path.display());
            return Ok(Outcome::Done);
        }
        eprintln!(
            "drift: a table in {} differs from what the ledger writes; run `harness readme` and commit it",
            path.display()
        );
        return Ok(Outcome::CheckFailed);
    }
    std::fs::write(&path, fresh).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote the ledger tables of {}", path.display());
    Ok(Outcome::Done)
}
