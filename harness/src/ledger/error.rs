//! What can be wrong with a ledger or a measurement file, always naming the file, the
//! entry and the field, so the fix is obvious from the message alone.

use std::fmt;

use super::entry::Provenance;

/// Which entry a problem is about: its id, or its position when it has no usable id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryName {
    Id(String),
    Index(usize),
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryName::Id(id) => write!(f, "entry \"{id}\""),
            EntryName::Index(i) => write!(f, "entry #{i} (no id)"),
        }
    }
}

/// A problem with one entry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EntryProblem {
    #[error("unknown field \"{0}\"")]
    UnknownField(String),
    #[error("{0}")]
    Shape(String),
    #[error("id must be non-empty and use only a-z, 0-9, '_', '.' or '-'")]
    BadId,
    #[error("field \"{0}\" is empty")]
    Empty(&'static str),
    #[error("field \"{0}\" is not a finite number")]
    NotFinite(&'static str),
    #[error("a {provenance} entry must carry \"{field}\"")]
    MissingForProvenance {
        field: &'static str,
        provenance: Provenance,
    },
    #[error("\"ratio\" is given but there is no \"baseline\" to divide by")]
    RatioWithoutBaseline,
    #[error("\"baseline.value\" is 0, so no ratio can be formed")]
    ZeroBaseline,
    #[error("\"ratio\" is {ratio} but value / baseline.value is {expected}")]
    RatioMismatch { ratio: f64, expected: f64 },
    #[error("\"date\" {0:?} is not a date of the form YYYY-MM-DD")]
    BadDate(String),
    #[error("\"commit\" {0:?} is not a 40-digit lowercase hex commit id")]
    BadCommit(String),
    #[error("\"params\" has an empty key")]
    EmptyParamKey,
    #[error("\"series.points\" is empty")]
    SeriesEmpty,
    #[error("\"series.points\" holds a non-finite number at index {0}")]
    SeriesNotFinite(usize),
    #[error("\"series.points\" x does not increase at index {0}")]
    SeriesNotIncreasing(usize),
    #[error("\"value\" is {value} but the series ends at y = {last}; value must be the last y")]
    SeriesValueMismatch { value: f64, last: f64 },
    #[error("the id is used more than once")]
    DuplicateId,
    #[error("\"baseline.entry\" names \"{0}\", which is not in the ledger")]
    BaselineEntryMissing(String),
    #[error("\"baseline.value\" is {value} but entry \"{entry}\" holds {expected}")]
    BaselineValueMismatch {
        entry: String,
        value: f64,
        expected: f64,
    },
    #[error("\"{0}\" is stamped by `harness ledger add/update`; remove it from the input")]
    Stamped(&'static str),
    #[error("already in the ledger (use `harness ledger update` to replace it)")]
    AlreadyPresent,
    #[error("not in the ledger (use `harness ledger add` to add it)")]
    NotPresent,
}

/// A problem with a ledger or measurement file as a whole.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: cannot write: {source}")]
    Write {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: not valid JSON: {source}")]
    Syntax {
        file: String,
        source: serde_json::Error,
    },
    #[error("{file}: {problem}")]
    Document { file: String, problem: String },
    #[error("{file}: {entry}: {problem}")]
    Entry {
        file: String,
        entry: EntryName,
        problem: EntryProblem,
    },
    #[error("no entry \"{0}\" in the ledger")]
    NoSuchEntry(String),
}

impl LedgerError {
    pub(crate) fn entry(file: &str, id: &str, problem: EntryProblem) -> Self {
        LedgerError::Entry {
            file: file.to_string(),
            entry: EntryName::Id(id.to_string()),
            problem,
        }
    }
}
