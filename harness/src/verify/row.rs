//! One line of the verify report: a gate on a backend, what it compared, and the verdict.

use fak_backends::BackendKind;
use fak_backends::parity::BitComparison;
use serde::{Serialize, Serializer};

use super::Gate;

/// A gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Every value compared is bit-identical.
    Pass,
    /// A value differs, or the gate could not run on a backend it had to run on.
    Fail,
    /// Not run: the backend is missing (and was not required) or was not selected.
    Skipped,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Skipped => "SKIPPED",
        }
    }
}

/// One gate on one backend. In JSON, `max_abs_delta` is a number, the string `"inf"` (a
/// NaN met a different pattern, or an output was short), or null (nothing compared).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub gate: String,
    #[serde(serialize_with = "backend_name")]
    pub backend: BackendKind,
    /// What was compared with what.
    pub compared: String,
    /// Values compared (f32 logits and activations, bf16 KV entries).
    pub values: usize,
    #[serde(serialize_with = "delta")]
    pub max_abs_delta: Option<f64>,
    pub result: Verdict,
    /// Why a gate failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Row {
    /// A gate that ran: PASS when every bit is equal and nothing else went wrong
    /// (`problem`, e.g. an excision that left the wrong tokens).
    pub fn measured(
        gate: &Gate,
        backend: BackendKind,
        comparison: BitComparison,
        problem: Option<String>,
    ) -> Self {
        let mismatch = (!comparison.is_exact()).then(|| comparison.to_string());
        let reason = match (mismatch, problem) {
            (Some(m), Some(p)) => Some(format!("{m}; {p}")),
            (m, p) => m.or(p),
        };
        Self {
            gate: gate.name(),
            backend,
            compared: gate.compared(),
            values: comparison.values,
            max_abs_delta: Some(comparison.max_abs_delta),
            result: if reason.is_none() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            reason,
        }
    }

    /// A gate that could not run where it had to: a failure, with why.
    pub fn failed(gate: &Gate, backend: BackendKind, reason: String) -> Self {
        Self {
            result: Verdict::Fail,
            ..Self::skipped(gate, backend, reason)
        }
    }

    /// A gate not run, with why.
    pub fn skipped(gate: &Gate, backend: BackendKind, reason: String) -> Self {
        Self {
            gate: gate.name(),
            backend,
            compared: gate.compared(),
            values: 0,
            max_abs_delta: None,
            result: Verdict::Skipped,
            reason: Some(reason),
        }
    }
}

fn backend_name<S: Serializer>(b: &BackendKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(b.name())
}

fn delta<S: Serializer>(d: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) if d.is_finite() => s.serialize_f64(*d),
        Some(_) => s.serialize_str("inf"),
        None => s.serialize_none(),
    }
}
