//! `harness ledger list | show ID | add --from FILE | update --from FILE`.

use std::path::Path;

use anyhow::Result;
use fak_harness::cli::LedgerCommand;
use fak_harness::ledger::{LEDGER_PATH, Ledger, LedgerError, Stamp, WriteMode, parse_measurement};
use fak_harness::number::grouped;

use crate::Outcome;

pub fn run(root: &Path, command: &LedgerCommand) -> Result<Outcome> {
    let path = root.join(LEDGER_PATH);
    let mut ledger = Ledger::load(&path)?;
    match command {
        LedgerCommand::List => {
            for e in ledger.entries() {
                println!(
                    "{:<48} {:>20} {:<8} {}",
                    e.id,
                    grouped(e.value),
                    e.unit,
                    e.provenance
                );
            }
        }
        LedgerCommand::Show { id } => {
            let entry = ledger
                .get(id)
                .ok_or_else(|| LedgerError::NoSuchEntry(id.clone()))?;
            println!("{}", serde_json::to_string_pretty(entry)?);
        }
        LedgerCommand::Add(args) | LedgerCommand::Update(args) | LedgerCommand::Replace(args) => {
            let mode = match command {
                LedgerCommand::Add(_) => WriteMode::Add,
                LedgerCommand::Update(_) => WriteMode::Update,
                _ => WriteMode::ReplaceStudies,
            };
            let source = args.from.display().to_string();
            let text =
                std::fs::read_to_string(&args.from).map_err(|source_err| LedgerError::Read {
                    file: source.clone(),
                    source: source_err,
                })?;
            let incoming = parse_measurement(&text, &source)?;
            let count = incoming.len();
            let before: Vec<String> = ledger.entries().iter().map(|e| e.id.clone()).collect();
            ledger.write(incoming, mode, &Stamp::here(root)?, &source)?;
            ledger.save(&path)?;
            let verb = match mode {
                WriteMode::Add => "added",
                WriteMode::Update => "updated",
                WriteMode::ReplaceStudies => "wrote",
            };
            println!("{verb} {count} entries in {}", path.display());
            // Replacing studies drops entries: name them, so none is lost unseen.
            for id in before.iter().filter(|id| ledger.get(id).is_none()) {
                println!("removed {id} (no longer in its study)");
            }
        }
    }
    Ok(Outcome::Done)
}
