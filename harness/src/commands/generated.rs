//! What the commands that write a generated file share: write it, or with `--check`
//! compare it with the committed one and report drift.

use std::path::Path;

use anyhow::{Context, Result};

use crate::Outcome;

/// Writes `fresh` to `path`, or with `check` compares them: `what` names the file's
/// generated part in messages, `command` the command that regenerates it.
pub fn write_or_check(
    path: &Path,
    fresh: &str,
    check: bool,
    what: &str,
    command: &str,
) -> Result<Outcome> {
    if check {
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        if committed == fresh {
            println!("{what} in {} match the ledger", path.display());
            return Ok(Outcome::Done);
        }
        eprintln!(
            "drift: {what} in {} differ from what the ledger writes; run `{command}` and commit it",
            path.display()
        );
        return Ok(Outcome::CheckFailed);
    }
    std::fs::write(path, fresh).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {what} in {}", path.display());
    Ok(Outcome::Done)
}
