//! Reading the two JSON documents that hold entries: the ledger itself and a measurement
//! file (a command's output that `harness ledger add/update` takes in). Unknown fields are
//! refused at every level, with the entry and the field named.

use serde::Deserialize;
use serde_json::Value;

use super::entry::Entry;
use super::error::{EntryName, EntryProblem, LedgerError};

/// The ledger format version this harness reads and writes.
pub const LEDGER_SCHEMA: u32 = 1;

#[derive(Deserialize)]
struct LedgerDocument {
    schema: u32,
    entries: Vec<Value>,
}

/// A measurement file: `{"entries": [ ... ]}`, each entry in the ledger's own form but
/// without `date` and `commit`, which the harness stamps.
#[derive(Deserialize)]
struct MeasurementDocument {
    entries: Vec<Value>,
}

/// Parses a ledger document (`{"schema": 1, "entries": [...]}`).
pub fn parse_ledger(text: &str, file: &str) -> Result<Vec<Entry>, LedgerError> {
    let doc: LedgerDocument = parse_top(text, file)?;
    if doc.schema != LEDGER_SCHEMA {
        return Err(LedgerError::Document {
            file: file.to_string(),
            problem: format!(
                "schema {} is not supported (this harness reads schema {LEDGER_SCHEMA})",
                doc.schema
            ),
        });
    }
    parse_entries(&doc.entries, file)
}

/// Parses a measurement file (`{"entries": [...]}`).
pub fn parse_measurement(text: &str, file: &str) -> Result<Vec<Entry>, LedgerError> {
    let doc: MeasurementDocument = parse_top(text, file)?;
    if doc.entries.is_empty() {
        return Err(LedgerError::Document {
            file: file.to_string(),
            problem: "\"entries\" is empty: nothing to write".to_string(),
        });
    }
    parse_entries(&doc.entries, file)
}

fn parse_top<T: for<'de> Deserialize<'de>>(text: &str, file: &str) -> Result<T, LedgerError> {
    let value: Value = serde_json::from_str(text).map_err(|source| LedgerError::Syntax {
        file: file.to_string(),
        source,
    })?;
    strict(&value).map_err(|problem| LedgerError::Document {
        file: file.to_string(),
        problem: problem.to_string(),
    })
}

fn parse_entries(values: &[Value], file: &str) -> Result<Vec<Entry>, LedgerError> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let name = match value.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => EntryName::Id(id.to_string()),
                _ => EntryName::Index(index),
            };
            strict(value).map_err(|problem| LedgerError::Entry {
                file: file.to_string(),
                entry: name,
                problem,
            })
        })
        .collect()
}

/// Deserializes `value`, refusing any field the target type does not know; the refusal
/// names the field by its path (`valu`, `baseline.vlaue`).
fn strict<T: for<'de> Deserialize<'de>>(value: &Value) -> Result<T, EntryProblem> {
    let mut unknown: Option<String> = None;
    let parsed: T = serde_ignored::deserialize(value, |path| {
        unknown.get_or_insert_with(|| field_path(&path));
    })
    .map_err(|e| EntryProblem::Shape(e.to_string()))?;
    match unknown {
        Some(field) => Err(EntryProblem::UnknownField(field)),
        None => Ok(parsed),
    }
}

/// `baseline.vlaue`: map keys and sequence indices joined with dots, without the markers
/// serde_ignored adds for options and newtypes.
fn field_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    let (parent, own) = match path {
        Path::Root => return String::new(),
        Path::Seq { parent, index } => (*parent, index.to_string()),
        Path::Map { parent, key } => (*parent, key.clone()),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => {
            return field_path(parent);
        }
    };
    let prefix = field_path(parent);
    if prefix.is_empty() {
        own
    } else {
        format!("{prefix}.{own}")
    }
}
