//! data/capabilities.json: who can do what (share a prefix, cut a middle span, prove
//! exactness, gate a tool call), fak against its peers. These are facts, not numbers, so
//! they live beside the ledger rather than in it; the capability matrix is drawn from here.
//!
//! fak's cells are `claimed` until a witness exists: a `yes` for fak must name one, and
//! `harness claims --check` checks that it exists.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The file's path inside the repository.
pub const CAPABILITIES_PATH: &str = "data/capabilities.json";

/// The system whose own claims this file tracks.
pub const OWN_SYSTEM: &str = "fak";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Yes,
    Partial,
    No,
    /// fak's own claim, not yet witnessed.
    Claimed,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Yes => "yes",
            Status::Partial => "partial",
            Status::No => "no",
            Status::Claimed => "claimed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capability {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    pub status: Status,
    /// Why, in a few words.
    pub note: String,
    /// For fak's `yes` cells: the test or command that proves it (CLAIMS.md syntax).
    #[serde(default)]
    pub witness: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    pub name: String,
    pub cells: BTreeMap<String, Cell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    pub schema: u32,
    pub capabilities: Vec<Capability>,
    pub systems: Vec<System>,
}

#[derive(Debug, thiserror::Error)]
pub enum CapabilitiesError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {source}")]
    Parse {
        file: String,
        source: serde_json::Error,
    },
    #[error("{file}: {problem}")]
    Invalid { file: String, problem: String },
}

impl Capabilities {
    pub fn load(path: &Path) -> Result<Self, CapabilitiesError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CapabilitiesError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, &file)
    }

    /// Parses and checks: schema 1, every system has exactly one cell per capability,
    /// only fak may be `claimed`, and a fak `yes` names its witness.
    pub fn parse(text: &str, file: &str) -> Result<Self, CapabilitiesError> {
        let caps: Capabilities =
            serde_json::from_str(text).map_err(|source| CapabilitiesError::Parse {
                file: file.to_string(),
                source,
            })?;
        let invalid = |problem: String| CapabilitiesError::Invalid {
            file: file.to_string(),
            problem,
        };
        if caps.schema != 1 {
            return Err(invalid(format!(
                "schema {} is not supported (expected 1)",
                caps.schema
            )));
        }
        if caps.capabilities.is_empty() || caps.systems.is_empty() {
            return Err(invalid(
                "needs at least one capability and one system".into(),
            ));
        }
        for system in &caps.systems {
            for cap in &caps.capabilities {
                let cell = system.cells.get(&cap.id).ok_or_else(|| {
                    invalid(format!(
                        "system \"{}\" has no cell for \"{}\"",
                        system.name, cap.id
                    ))
                })?;
                let own = system.name == OWN_SYSTEM;
                if cell.status == Status::Claimed && !own {
                    return Err(invalid(format!(
                        "system \"{}\", \"{}\": only {OWN_SYSTEM}'s cells can be \"claimed\"",
                        system.name, cap.id
                    )));
                }
                if own && cell.status == Status::Yes && cell.witness.is_none() {
                    return Err(invalid(format!(
                        "{OWN_SYSTEM}, \"{}\": a \"yes\" must name its witness (else mark it \"claimed\")",
                        cap.id
                    )));
                }
            }
            if let Some(extra) = system
                .cells
                .keys()
                .find(|k| !caps.capabilities.iter().any(|c| &c.id == *k))
            {
                return Err(invalid(format!(
                    "system \"{}\" has a cell for unknown capability \"{extra}\"",
                    system.name
                )));
            }
        }
        Ok(caps)
    }

    /// The witnesses fak's cells name, for `harness claims --check`.
    pub fn witnesses(&self) -> impl Iterator<Item = (&str, &str)> {
        self.systems
            .iter()
            .flat_map(|s| s.cells.iter())
            .filter_map(|(cap, cell)| Some((cap.as_str(), cell.witness.as_deref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(fak_cell: &str, peer_cell: &str) -> String {
        format!(
            r#"{{"schema": 1,
                "capabilities": [{{"id": "share_prefix", "label": "share a prefix"}}],
                "systems": [
                  {{"name": "fak", "cells": {{"share_prefix": {fak_cell}}}}},
                  {{"name": "peer", "cells": {{"share_prefix": {peer_cell}}}}}
                ]}}"#
        )
    }

    fn problem(text: &str) -> String {
        Capabilities::parse(text, "caps.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn committed_capabilities_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(CAPABILITIES_PATH);
        let caps = Capabilities::load(&path).unwrap();
        assert!(caps.systems.iter().any(|s| s.name == OWN_SYSTEM));
    }

    #[test]
    fn a_fak_yes_without_a_witness_is_refused() {
        let text = doc(
            r#"{"status": "yes", "note": "n"}"#,
            r#"{"status": "no", "note": "n"}"#,
        );
        assert_eq!(
            problem(&text),
            "caps.json: fak, \"share_prefix\": a \"yes\" must name its witness (else mark it \"claimed\")"
        );
    }

    #[test]
    fn only_fak_may_claim() {
        let text = doc(
            r#"{"status": "claimed", "note": "n"}"#,
            r#"{"status": "claimed", "note": "n"}"#,
        );
        assert_eq!(
            problem(&text),
            "caps.json: system \"peer\", \"share_prefix\": only fak's cells can be \"claimed\""
        );
    }

    #[test]
    fn a_missing_cell_is_refused() {
        let text =
            doc(r#"{"status": "claimed", "note": "n"}"#, "{}").replace(r#""share_prefix": {}"#, "");
        assert_eq!(
            problem(&text),
            "caps.json: system \"peer\" has no cell for \"share_prefix\""
        );
    }
}
