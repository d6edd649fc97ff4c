//! What the gate did, for the client (the `fak` extension object), the access log and
//! the metrics.

use std::sync::Mutex;

use fak_kernel::{Disposition, RefusalCode};
use serde::Serialize;
use serde_json::Value;

/// One decided tool call, as listed in the `fak` extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecisionRecord {
    pub call_id: String,
    pub tool: String,
    /// `ALLOW`, `TRANSFORM`, `HOLD` or `DENY`.
    pub verdict: &'static str,
    /// Whether the call reaches the client.
    pub delivered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The repair ladder changed the arguments (the client gets the repaired ones).
    pub repaired: bool,
}

/// One screened tool result of the request's transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdmissionRecord {
    pub tool_call_id: String,
    pub tool: String,
    /// `ADMIT`, `PAGE_OUT` or `QUARANTINE`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<RefusalCode>,
    pub bytes: usize,
}

/// The `fak` object added to a response (or to the last chunk of a stream).
pub fn extension(
    trace: &str,
    decisions: &[DecisionRecord],
    admissions: &[AdmissionRecord],
) -> Value {
    serde_json::json!({
        "trace_id": trace,
        "decisions": decisions,
        "admissions": admissions,
    })
}

/// One verdict or admission outcome, with its code when it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub outcome: &'static str,
    pub code: Option<&'static str>,
}

/// What one request's gate did, read by the access log and the metrics when it ends.
#[derive(Debug, Default)]
pub struct Tally {
    marks: Mutex<Vec<Mark>>,
}

impl Tally {
    pub fn mark(&self, outcome: &'static str, code: Option<&'static str>) {
        self.marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Mark { outcome, code });
    }

    pub fn marks(&self) -> Vec<Mark> {
        self.marks.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
