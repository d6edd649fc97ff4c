//! `harness figures [--check]`.

use std::path::Path;

use anyhow::Result;
use fak_harness::capabilities::{CAPABILITIES_PATH, Capabilities};
use fak_harness::cli::CheckArgs;
use fak_harness::figures::{self, FIGURES_DIR};
use fak_harness::ledger::{LEDGER_PATH, Ledger};

use crate::Outcome;

pub fn run(root: &Path, args: &CheckArgs) -> Result<Outcome> {
    let ledger = Ledger::load(&root.join(LEDGER_PATH))?;
    let capabilities = Capabilities::load(&root.join(CAPABILITIES_PATH))?;
    let outcome = figures::render_all(&ledger, Some(&capabilities))?;
    for (name, why) in &outcome.absent {
        println!("not drawn: {name} ({why})");
    }
    let dir = root.join(FIGURES_DIR);
    if args.check {
        let drifted = figures::check(&outcome, &dir)?;
        if drifted.is_empty() {
            println!("figures: {} figures match the ledger", outcome.drawn.len());
            return Ok(Outcome::Done);
        }
        for path in &drifted {
            eprintln!(
                "drift: {} differs from what the ledger draws",
                path.display()
            );
        }
        eprintln!("run `harness figures` and commit figures/");
        return Ok(Outcome::CheckFailed);
    }
    figures::write(&outcome, &dir)?;
    for r in &outcome.drawn {
        println!("drew {}/{}.svg and .png", dir.display(), r.name);
    }
    Ok(Outcome::Done)
}
