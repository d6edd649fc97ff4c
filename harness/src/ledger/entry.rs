//! One published number and everything needed to reproduce and judge it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// Where a number comes from. Readers weigh a MEASURED number differently from a modeled
/// one, so every figure and table shows this next to the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Provenance {
    /// Timed or counted on this code, on a named machine, at a named commit.
    #[serde(rename = "MEASURED")]
    Measured,
    /// Computed from a stated model (formulas and assumptions), not observed.
    #[serde(rename = "MODELED")]
    Modeled,
    /// Observed in a simulation of the system rather than the system itself.
    #[serde(rename = "SIMULATED")]
    Simulated,
}

impl Provenance {
    /// The spelling used in the ledger and in generated documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Measured => "MEASURED",
            Provenance::Modeled => "MODELED",
            Provenance::Simulated => "SIMULATED",
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a number is compared with. The baseline is in the entry's own unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// What the baseline is, in words ("naive re-prefill at 8 workers").
    pub what: String,
    #[serde(serialize_with = "serialize_number")]
    pub value: f64,
    /// The ledger entry the baseline value is taken from, when it is one of ours; the
    /// ledger refuses a baseline whose value differs from that entry's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

/// A coordinate that places an entry in a figure: `study` names the family of entries,
/// the other keys (policy, workers, span position, ...) are the axes a figure reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Param {
    Number(#[serde(serialize_with = "serialize_number")] f64),
    Text(String),
}

impl Param {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Param::Number(n) => Some(*n),
            Param::Text(_) => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Param::Text(t) => Some(t),
            Param::Number(_) => None,
        }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Number(n) => f.write_str(&crate::number::plain(*n)),
            Param::Text(t) => f.write_str(t),
        }
    }
}

/// A curve published as one entry: the entry's value is the curve's last y.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// What x is ("context length").
    pub x_label: String,
    pub x_unit: String,
    /// (x, y) pairs, x strictly increasing; y is in the entry's unit.
    #[serde(serialize_with = "serialize_points")]
    pub points: Vec<[f64; 2]>,
}

/// One number of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub title: String,
    #[serde(serialize_with = "serialize_number")]
    pub value: f64,
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// value / baseline.value; filled in by `harness ledger add` when a baseline is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    pub provenance: Provenance,
    /// How the number is derived, in one line (the model's formula, the bench's setup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The command that reproduces the number.
    pub command: String,
    /// The file the number was read from (a bench report, a data set and its hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// UTC date (YYYY-MM-DD) the entry was written; stamped, never typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The commit (git rev-parse HEAD) the entry was written at; stamped, never typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Param>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Series>,
}

impl Entry {
    /// The study this entry belongs to (its `study` param), if it has one.
    pub fn study(&self) -> Option<&str> {
        self.params.get("study").and_then(Param::as_text)
    }
}

/// Integral values are written as JSON integers, so a token count reads `170930292`, not
/// `170930292.0`; both parse back to the same f64.
fn serialize_number<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    match crate::number::as_exact_integer(*value) {
        Some(i) => serializer.serialize_i64(i),
        None => serializer.serialize_f64(*value),
    }
}

fn serialize_points<S: Serializer>(points: &[[f64; 2]], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;

    #[derive(Serialize)]
    struct Point(
        #[serde(serialize_with = "serialize_number")] f64,
        #[serde(serialize_with = "serialize_number")] f64,
    );

    let mut seq = serializer.serialize_seq(Some(points.len()))?;
    for [x, y] in points {
        seq.serialize_element(&Point(*x, *y))?;
    }
    seq.end()
}
