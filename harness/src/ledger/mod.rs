//! data/ledger.json: every number the project publishes, typed and validated on load.
//!
//! Entries come in through [`Ledger::add`] and [`Ledger::update`] from a measurement file
//! (a command's JSON output), which stamp date and commit, so no number is typed by hand.

mod document;
mod entry;
mod error;
mod stamp;
mod validate;

use std::path::Path;

pub use document::{LEDGER_SCHEMA, parse_measurement};
pub use entry::{Baseline, Entry, Param, Provenance, Series};
pub use error::{EntryName, EntryProblem, LedgerError};
pub use stamp::{Stamp, StampError, describe_machine};

/// The ledger's path inside the repository.
pub const LEDGER_PATH: &str = "data/ledger.json";

/// A validated set of entries, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    entries: Vec<Entry>,
}

/// Whether a write may create entries or replace them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Every incoming id must be new.
    Add,
    /// Every incoming id must already be in the ledger; its entry is replaced whole.
    Update,
    /// The incoming entries are whole studies (a rerun of a sweep whose members may have
    /// been renamed or dropped): every entry of a study they name is removed, and they take
    /// its place in their own order, so no stale member of the sweep stays published.
    ReplaceStudies,
}

impl Ledger {
    /// Reads and validates a ledger file.
    pub fn load(path: &Path) -> Result<Self, LedgerError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LedgerError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, &file)
    }

    /// Parses and validates ledger text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, LedgerError> {
        let entries = document::parse_ledger(text, file)?;
        Self::from_entries(entries, file)
    }

    /// A ledger of these entries, if together they pass every rule.
    pub fn from_entries(entries: Vec<Entry>, file: &str) -> Result<Self, LedgerError> {
        for entry in &entries {
            validate::check_entry(entry)
                .map_err(|problem| LedgerError::entry(file, &entry.id, problem))?;
        }
        validate::check_set(&entries)
            .map_err(|(id, problem)| LedgerError::entry(file, &id, problem))?;
        Ok(Ledger { entries })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Entries of one study (their `study` param), in ledger order.
    pub fn study(&self, study: &str) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.study() == Some(study))
            .collect()
    }

    /// Writes `incoming` (read from the measurement file `source`) into the ledger,
    /// stamping each entry and filling its ratio from its baseline. Nothing changes unless
    /// every entry is accepted and the resulting ledger passes every rule.
    pub fn write(
        &mut self,
        incoming: Vec<Entry>,
        mode: WriteMode,
        stamp: &Stamp,
        source: &str,
    ) -> Result<(), LedgerError> {
        let mut ids = std::collections::BTreeSet::new();
        if let Some(twice) = incoming.iter().find(|e| !ids.insert(e.id.as_str())) {
            return Err(LedgerError::entry(
                source,
                &twice.id,
                EntryProblem::DuplicateId,
            ));
        }
        let mut next = self.entries.clone();
        // Replaced studies leave the ledger and come back where their first entry stood,
        // in the incoming order (the order the sweep ran in).
        let mut insert_at = None;
        if mode == WriteMode::ReplaceStudies {
            let studies: std::collections::BTreeSet<&str> =
                incoming.iter().filter_map(Entry::study).collect();
            let replaced = |e: &Entry| e.study().is_some_and(|s| studies.contains(s));
            insert_at = next.iter().position(replaced);
            next.retain(|e| !replaced(e));
        }
        for mut entry in incoming {
            let refuse = |problem| LedgerError::entry(source, &entry.id, problem);
            if entry.date.is_some() {
                return Err(refuse(EntryProblem::Stamped("date")));
            }
            if entry.commit.is_some() {
                return Err(refuse(EntryProblem::Stamped("commit")));
            }
            let position = next.iter().position(|e| e.id == entry.id);
            match (mode, position) {
                (WriteMode::Add, Some(_)) => return Err(refuse(EntryProblem::AlreadyPresent)),
                (WriteMode::Update, None) => return Err(refuse(EntryProblem::NotPresent)),
                _ => {}
            }
            entry.date = Some(stamp.date.clone());
            entry.commit = Some(stamp.commit.clone());
            entry.machine.get_or_insert_with(|| stamp.machine.clone());
            if let (Some(baseline), None) = (&entry.baseline, entry.ratio)
                && baseline.value != 0.0
            {
                entry.ratio = Some(entry.value / baseline.value);
            }
            validate::check_entry(&entry)
                .map_err(|problem| LedgerError::entry(source, &entry.id, problem))?;
            match (position, insert_at) {
                (Some(i), _) => next[i] = entry,
                (None, Some(at)) => {
                    next.insert(at, entry);
                    insert_at = Some(at + 1);
                }
                (None, None) => next.push(entry),
            }
        }
        *self = Self::from_entries(next, source)?;
        Ok(())
    }

    /// The ledger as its file holds it: pretty JSON, one trailing newline.
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct Document<'a> {
            schema: u32,
            entries: &'a [Entry],
        }
        let doc = Document {
            schema: LEDGER_SCHEMA,
            entries: &self.entries,
        };
        // Serializing plain data with string keys cannot fail.
        let mut text = serde_json::to_string_pretty(&doc).expect("ledger serializes");
        text.push('\n');
        text
    }

    /// Writes the ledger to `path`.
    pub fn save(&self, path: &Path) -> Result<(), LedgerError> {
        std::fs::write(path, self.to_json()).map_err(|source| LedgerError::Write {
            file: path.display().to_string(),
            source,
        })
    }
}
