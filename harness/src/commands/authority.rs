//! `harness authority [--check]`.

use std::path::Path;

use anyhow::{Context, Result};
use fak_harness::authority::{AUTHORITY_PATH, render};
use fak_harness::cli::CheckArgs;
use fak_harness::ledger::{LEDGER_PATH, Ledger};

use crate::Outcome;

pub fn run(root: &Path, args: &CheckArgs) -> Result<Outcome> {
    let ledger = Ledger::load(&root.join(LEDGER_PATH))?;
    let fresh = render(&ledger);
    let path = root.join(AUTHORITY_PATH);
    if args.check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == fresh {
            println!("authority: {} matches the ledger", path.display());
            return Ok(Outcome::Done);
        }
        eprintln!(
            "drift: {} differs from what the ledger writes; run `harness authority` and commit it",
            path.display()
        );
        return Ok(Outcome::CheckFailed);
    }
    std::fs::write(&path, fresh).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(Outcome::Done)
}
