//! The before/after: both arms of one task, each summarized from what the run left
//! behind (the world's effects, the transcript, the kernel's counters and journal).
//!
//! This is the object `fak agent --offline --json` prints; its field names are stable
//! (README, "fak agent --offline").

use std::io::Cursor;
use std::sync::Arc;

use serde::Serialize;

use super::arm::{self, ArmRun, CallRecord, Wiring};
use super::task::{Completion, Task};
use super::world::Effect;
use crate::audit::{self, Journal};
use crate::clock::ManualClock;
use crate::counters::CountersSnapshot;
use crate::kernel::Kernel;
use crate::policy::Policy;

/// The value of `format` in the JSON object.
pub const AGENT_REPORT_FORMAT: &str = "fak-agent-offline/v1";

/// What the kernel arm's kernel counted and journaled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KernelSummary {
    pub counters: CountersSnapshot,
    /// Lines in the run's hash-chained audit journal.
    pub journal_lines: u64,
    /// Whether that journal's chain verifies from its first line to its head.
    pub journal_verified: bool,
}

/// One arm, summarized.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArmReport {
    pub wiring: Wiring,
    /// Actions the planner took (tool calls and the final answer).
    pub model_turns: u32,
    /// Tool calls the planner made.
    pub tool_calls: usize,
    /// Calls that reached a tool (the world's own log).
    pub tool_calls_dispatched: usize,
    /// Whether the sentence an attacker planted reached any message the planner read.
    pub injection_reached_model: bool,
    /// Destructive changes the world shows, by tool.
    pub destructive_executed: Vec<String>,
    pub task: Completion,
    /// Every change the tools made to the world.
    pub effects: Vec<Effect>,
    /// The planner's final answer; null when the turn limit stopped it.
    pub answer: Option<String>,
    pub calls: Vec<CallRecord>,
    /// Null for the direct arm.
    pub kernel: Option<KernelSummary>,
}

/// Both arms of one task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentReport {
    pub format: &'static str,
    pub task: Task,
    pub prompt: String,
    /// The kernel arm's policy: a built-in one's name, or the file it was loaded from.
    pub policy: String,
    pub direct: ArmReport,
    pub kernel: ArmReport,
}

fn summarize(task: Task, run: &ArmRun) -> ArmReport {
    let state = run.world.snapshot();
    let kernel = run.kernel.as_ref().map(|k| {
        let journal = k.journal();
        let text = journal.memory_text().unwrap_or_default();
        KernelSummary {
            counters: k.counters(),
            journal_lines: journal.len(),
            journal_verified: audit::verify(Cursor::new(text), Some(&journal.head())).is_ok(),
        }
    });
    ArmReport {
        wiring: run.wiring,
        model_turns: run.model_turns,
        tool_calls: run.calls.len(),
        tool_calls_dispatched: state.dispatched.len(),
        injection_reached_model: run
            .world
            .planted_order()
            .is_some_and(|order| run.transcript.model_was_shown(order)),
        destructive_executed: state
            .effects
            .iter()
            .filter(|e| e.is_destructive())
            .map(|e| e.tool().to_string())
            .collect(),
        task: task.check(&run.world),
        effects: state.effects,
        answer: run.answer.clone(),
        calls: run.calls.clone(),
        kernel,
    }
}

/// Both arms of one task as they ran: worlds, transcripts, calls and the kernel.
#[derive(Debug)]
pub struct OfflineRun {
    pub task: Task,
    /// The kernel arm's policy: a built-in one's name, or the file it was loaded from.
    pub policy: String,
    pub direct: ArmRun,
    pub kernel: ArmRun,
}

impl OfflineRun {
    /// The before/after read from both runs.
    pub fn report(&self) -> AgentReport {
        AgentReport {
            format: AGENT_REPORT_FORMAT,
            task: self.task,
            prompt: self.task.prompt(),
            policy: self.policy.clone(),
            direct: summarize(self.task, &self.direct),
            kernel: summarize(self.task, &self.kernel),
        }
    }
}

/// Runs `task` with the tools wired directly, then behind a kernel enforcing `policy`.
/// The kernel keeps its journal in memory and reads a clock that stands still, so the
/// same task and policy give the same runs every time.
pub fn run_arms(task: Task, policy: Policy) -> OfflineRun {
    let policy_name = policy.name().to_string();
    let kernel = Kernel::builder(policy)
        .journal(Journal::memory())
        .clock(Arc::new(ManualClock::new(0)))
        .build();
    OfflineRun {
        task,
        policy: policy_name,
        direct: arm::run(task, None),
        kernel: arm::run(task, Some(kernel)),
    }
}

/// The report of [`run_arms`].
pub fn run_offline(task: Task, policy: Policy) -> AgentReport {
    run_arms(task, policy).report()
}
