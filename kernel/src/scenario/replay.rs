//! Trace replay: a recorded run of tool calls sent through the real syscall path, each
//! call classified by the verdict the kernel gives it now.
//!
//! A trace (`fak-trace/v1`, README "fak turntax") holds the tool descriptors, the policy
//! to replay under, and the calls a naive agent loop made, each with the result the tool
//! returned then. The replay hands each call to [`Kernel::syscall`] with a registry that
//! answers with the recorded result, so repair, decide, the vDSO and admission all run
//! for real; nothing in the trace says what the kernel should do. Two facts come from the
//! recording because no verdict can supply them: which results carried an injection
//! (`injection`), and which call re-sent an earlier one after the tool rejected it
//! (`retry_of`). A retry is not replayed when the kernel repaired the call it re-sends:
//! that turn is what a naive loop is forced to spend.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ScenarioError;
use crate::admission::ModelView;
use crate::audit::Journal;
use crate::clock::ManualClock;
use crate::counters::CountersSnapshot;
use crate::kernel::Kernel;
use crate::policy::Policy;
use crate::syscall::{Reply, SyscallOutcome};
use crate::tools::{RawArgs, RawCall, SinkKind, ToolCall, ToolDescriptor, ToolError, ToolRegistry};

/// The value of `format` in a trace file.
pub const TRACE_FORMAT: &str = "fak-trace/v1";
/// The value of `format` in a replay report.
pub const REPLAY_REPORT_FORMAT: &str = "fak-turntax/v1";

/// A trace file, field for field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub format: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The policy to replay under, a `fak-policy/v1` object.
    pub policy: Value,
    pub tools: Vec<ToolDescriptor>,
    pub calls: Vec<RecordedCall>,
}

/// One call as the naive loop made it, and what the tool answered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedCall {
    pub tool: String,
    /// A string is the argument text exactly as the model wrote it (repaired like any
    /// model output); any other value is the parsed arguments.
    pub args: Value,
    /// What the tool returned (its error message when `tool_error`).
    pub result: String,
    #[serde(default)]
    pub tool_error: bool,
    /// The number (from 1) of an earlier call this one re-sends after the tool rejected it.
    #[serde(default)]
    pub retry_of: Option<usize>,
    /// The result carries an instruction planted for the model (ground truth, labelled
    /// by whoever wrote the trace).
    #[serde(default)]
    pub injection: bool,
}

impl Trace {
    /// Reads and checks a trace file.
    pub fn load(path: &Path) -> Result<Trace, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::TraceRead {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Trace::parse(&text, &file)
    }

    /// Parses and checks trace text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Trace, ScenarioError> {
        let invalid = |path: String, message: String| ScenarioError::TraceInvalid {
            file: file.to_string(),
            path,
            message,
        };
        let mut json = serde_json::Deserializer::from_str(text);
        let trace: Trace = serde_path_to_error::deserialize(&mut json)
            .map_err(|e| invalid(e.path().to_string(), e.inner().to_string()))?;
        json.end()
            .map_err(|e| invalid(".".to_string(), e.to_string()))?;
        if trace.format != TRACE_FORMAT {
            return Err(invalid(
                "format".to_string(),
                format!(
                    "is \"{}\", this kernel reads \"{TRACE_FORMAT}\"",
                    trace.format
                ),
            ));
        }
        for (i, call) in trace.calls.iter().enumerate() {
            let Some(of) = call.retry_of else { continue };
            let original = (1..=i).contains(&of).then(|| &trace.calls[of - 1]);
            if !original.is_some_and(|o| o.tool == call.tool && o.tool_error) {
                return Err(invalid(
                    format!("calls[{i}].retry_of"),
                    format!(
                        "{of} is not an earlier call to \"{}\" that the tool rejected",
                        call.tool
                    ),
                ));
            }
        }
        Ok(trace)
    }

    /// The trace's own policy, compiled strictly (named `<file>#policy` in errors).
    pub fn policy(&self, file: &str, base_dir: &Path) -> Result<Policy, ScenarioError> {
        Ok(Policy::parse(
            &self.policy.to_string(),
            &format!("{file}#policy"),
            base_dir,
        )?)
    }
}

/// What the kernel did with one recorded call, from its live verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Refused before dispatch (by repair or by the policy).
    Denied,
    /// Held for a confirm token; not dispatched.
    Held,
    /// Dispatched; the result was quarantined.
    Quarantined,
    /// Answered locally by the vDSO.
    VdsoHit,
    /// Changed by the repair ladder, then dispatched and admitted.
    Repaired,
    /// Dispatched and admitted as it was.
    Passed,
    /// A retry of a call the kernel repaired: not sent.
    Skipped,
}

impl Class {
    /// Whether the result reached the model's context.
    fn admitted(self) -> bool {
        matches!(self, Class::VdsoHit | Class::Repaired | Class::Passed)
    }

    /// Whether a tool ran.
    fn dispatched(self) -> bool {
        matches!(self, Class::Quarantined | Class::Repaired | Class::Passed)
    }
}

/// One replayed call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplayedCall {
    /// The call's number in the trace, from 1.
    pub n: usize,
    pub tool: String,
    pub class: Class,
    /// The refusal or quarantine code, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Turns the kernel takes off a naive loop.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TurnsSaved {
    /// Retries that were not needed because the kernel repaired the call in place.
    pub repairs: usize,
    /// Duplicate calls the vDSO answered without a tool round trip.
    pub duplicates: usize,
    /// Turns a naive loop is forced to spend: `repairs + duplicates`.
    pub forced: usize,
    /// Calls the kernel refused or held before dispatch: turns a careful agent that
    /// kept to the policy would not have spent.
    pub skippable: usize,
    /// `forced + skippable`.
    pub total: usize,
}

/// The safety counters, for one way of running the trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Safety {
    /// Results labelled as injections that reached the model's context.
    pub injections_admitted: usize,
    /// Calls to destructive tools that ran and succeeded.
    pub destructive_executed: usize,
}

/// A whole replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayReport {
    pub format: &'static str,
    pub trace: String,
    pub description: String,
    pub policy: String,
    /// Calls in the recording (turns the naive loop spent on tool calls).
    pub recorded_calls: usize,
    pub calls: Vec<ReplayedCall>,
    /// The replay kernel's counters.
    pub counters: CountersSnapshot,
    pub turns_saved: TurnsSaved,
    /// The recording as it happened, with no kernel.
    pub naive: Safety,
    /// The same calls behind the kernel.
    pub kernel: Safety,
}

/// A registry that answers each call with the result recorded for it.
struct Recorded {
    tools: BTreeMap<String, ToolDescriptor>,
    next: Mutex<Option<Result<String, String>>>,
}

impl ToolRegistry for Recorded {
    fn descriptor(&self, name: &str) -> Option<&ToolDescriptor> {
        self.tools.get(name)
    }

    fn dispatch(&self, _call: &ToolCall) -> Result<String, ToolError> {
        let next = self.next.lock().unwrap_or_else(|e| e.into_inner()).take();
        match next {
            Some(Ok(text)) => Ok(text),
            Some(Err(message)) => Err(ToolError(message)),
            None => Err(ToolError(
                "the recording has no result for this call".into(),
            )),
        }
    }
}

fn raw(call: &RecordedCall) -> RawCall {
    match &call.args {
        Value::String(text) => RawCall::text(&call.tool, text.clone()),
        other => RawCall {
            tool: call.tool.clone(),
            args: RawArgs::Json(other.clone()),
        },
    }
}

fn classify(out: &SyscallOutcome) -> Class {
    match &out.reply {
        Reply::Refused { .. } => Class::Denied,
        Reply::Held { .. } => Class::Held,
        Reply::Served { local: true, .. } => Class::VdsoHit,
        Reply::Served { admission, .. }
            if matches!(admission.view, ModelView::Quarantined { .. }) =>
        {
            Class::Quarantined
        }
        Reply::Served { .. } if !out.repairs.is_empty() => Class::Repaired,
        Reply::Served { .. } => Class::Passed,
    }
}

/// Replays `trace` under `policy` (the trace's own, or one the caller chose).
pub fn replay(trace: &Trace, policy: Policy) -> ReplayReport {
    let policy_name = policy.name().to_string();
    let kernel = Kernel::builder(policy)
        .journal(Journal::memory())
        .clock(Arc::new(ManualClock::new(0)))
        .build();
    let registry = Recorded {
        tools: trace
            .tools
            .iter()
            .map(|d| (d.name.clone(), d.clone()))
            .collect(),
        next: Mutex::new(None),
    };
    let retry_of = |n: usize| trace.calls.iter().find(|c| c.retry_of == Some(n));
    let mut calls: Vec<ReplayedCall> = Vec::with_capacity(trace.calls.len());
    for (i, call) in trace.calls.iter().enumerate() {
        let n = i + 1;
        let original_repaired = call
            .retry_of
            .is_some_and(|of| calls[of - 1].class == Class::Repaired);
        if original_repaired {
            calls.push(ReplayedCall {
                n,
                tool: call.tool.clone(),
                class: Class::Skipped,
                code: None,
            });
            continue;
        }
        // A rejected call the kernel repairs gets the answer its fixed retry got.
        let answer = match (call.tool_error, retry_of(n)) {
            (true, Some(retry)) if !retry.tool_error => Ok(retry.result.clone()),
            (true, _) => Err(call.result.clone()),
            (false, _) => Ok(call.result.clone()),
        };
        *registry.next.lock().unwrap_or_else(|e| e.into_inner()) = Some(answer);
        let out = kernel.syscall(&registry, "replay", &raw(call), None);
        calls.push(ReplayedCall {
            n,
            tool: call.tool.clone(),
            class: classify(&out),
            code: out.code().map(|c| c.name().to_string()),
        });
    }
    let count = |class: Class| calls.iter().filter(|c| c.class == class).count();
    let repairs = count(Class::Skipped);
    let duplicates = count(Class::VdsoHit);
    let skippable = count(Class::Denied) + count(Class::Held);
    let destructive = |c: &RecordedCall| {
        !c.tool_error
            && registry
                .descriptor(&c.tool)
                .is_some_and(|d| d.sinks.contains(&SinkKind::Destructive))
    };
    let pairs = || trace.calls.iter().zip(&calls);
    ReplayReport {
        format: REPLAY_REPORT_FORMAT,
        trace: trace.name.clone(),
        description: trace.description.clone(),
        policy: policy_name,
        recorded_calls: trace.calls.len(),
        counters: kernel.counters(),
        turns_saved: TurnsSaved {
            repairs,
            duplicates,
            forced: repairs + duplicates,
            skippable,
            total: repairs + duplicates + skippable,
        },
        naive: Safety {
            injections_admitted: trace.calls.iter().filter(|c| c.injection).count(),
            destructive_executed: trace.calls.iter().filter(|c| destructive(c)).count(),
        },
        kernel: Safety {
            injections_admitted: pairs()
                .filter(|(c, r)| c.injection && r.class.admitted())
                .count(),
            destructive_executed: pairs()
                .filter(|(c, r)| destructive(c) && r.class.dispatched())
                .count(),
        },
        calls,
    }
}
