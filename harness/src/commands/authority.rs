//! `harness authority [--check]`.

use std::path::Path;

use anyhow::Result;
use fak_harness::authority::{AUTHORITY_PATH, render};
use fak_harness::cli::CheckArgs;
use fak_harness::ledger::{LEDGER_PATH, Ledger};

use super::generated::write_or_check;
use crate::Outcome;

pub fn run(root: &Path, args: &CheckArgs) -> Result<Outcome> {
    let ledger = Ledger::load(&root.join(LEDGER_PATH))?;
    write_or_check(
        &root.join(AUTHORITY_PATH),
        &render(&ledger),
        args.check,
        "the numbers",
        "harness authority",
    )
}
