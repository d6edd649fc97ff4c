//! `fak agent --offline`: one task run twice, tools wired directly and tools behind the
//! kernel, and the before/after table read from both runs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::builder::PossibleValuesParser;
use fak_backends::Backend;
use fak_kernel::CountersSnapshot;
use fak_kernel::scenario::arm::{CallRecord, Outcome};
use fak_kernel::scenario::{AgentReport, ArmReport, OfflineRun, Task, run_arms};
use serde::Serialize;

use crate::agent_fused;
use crate::exit::Status;
use crate::on_backend::{OnBackend, on_backend};

const HELP: &str = "Exit status:
  0  both arms ran (whatever they did; read the table)
  2  usage error, a policy file that is missing or does not load, or (--fused) a model
     that does not load or a --revoke with nothing to revoke
  3  --fused --revoke: the session after the excision differs from a cold rebuild";

/// Run one task with the tools wired directly and again behind the kernel, with a
/// scripted planner over in-memory tools (no model, no network), and compare.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    /// Use the scripted planner and in-memory tools (the only mode there is for now).
    #[arg(long, required = true)]
    offline: bool,
    /// The task: `booking` (an injected order the detector finds), `booking-evasive`
    /// (one it misses, left to the policy) or `refund` (under a read-only policy).
    #[arg(long, default_value = "booking",
          value_parser = PossibleValuesParser::new(Task::ALL.map(Task::name)))]
    task: String,
    /// Policy for the kernel arm (default: the task's built-in policy). Loaded strictly;
    /// the run never changes it.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Print the report as one JSON object (README: "fak agent --offline").
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    fused: agent_fused::FusedArgs,
}

pub fn run(args: Args) -> Result<Status> {
    let task = Task::from_name(&args.task)?;
    let policy = match &args.policy {
        Some(file) => crate::policy::load(Some(file), None)?,
        None => task.builtin_policy(&std::env::current_dir()?)?,
    };
    let run = run_arms(task, policy);
    if !args.fused.fused {
        print(&run.report(), None, args.json)?;
        return Ok(Status::Ok);
    }
    on_backend(
        &args.fused.backend.clone(),
        Fused {
            run,
            args: args.fused,
            json: args.json,
        },
    )
}

/// The fused run, on the backend `--backend` names.
struct Fused {
    run: OfflineRun,
    args: agent_fused::FusedArgs,
    json: bool,
}

impl OnBackend for Fused {
    fn run<B: Backend>(self, backend: Arc<B>) -> Result<Status> {
        let fused = agent_fused::fuse(backend, &self.args, &self.run.kernel)?;
        print(&self.run.report(), Some(&fused), self.json)?;
        Ok(fused.status())
    }
}

/// The `fak-agent-offline/v1` object, with a `fused` member after a fused run.
#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    report: &'a AgentReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    fused: Option<&'a agent_fused::Output>,
}

fn print(report: &AgentReport, fused: Option<&agent_fused::Output>, json: bool) -> Result<()> {
    if json {
        let object = Json { report, fused };
        println!("{}", serde_json::to_string_pretty(&object)?);
    } else {
        print!("{}", render(report));
        if let Some(fused) = fused {
            print!("{}", agent_fused::render(fused));
        }
    }
    Ok(())
}

const DIRECT: &str = "tools wired directly";
const KERNEL: &str = "tools behind the kernel";

pub(crate) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn destructive(arm: &ArmReport) -> String {
    match arm.destructive_executed.as_slice() {
        [] => "none".to_string(),
        tools => format!("yes: {}", tools.join(", ")),
    }
}

fn completion(arm: &ArmReport) -> String {
    format!("{} ({})", yes_no(arm.task.done), arm.task.detail)
}

/// A row the kernel arm has and the direct arm cannot: the kernel's own counters.
fn kernel_only(arm: &ArmReport, read: impl Fn(&CountersSnapshot) -> String) -> String {
    arm.kernel
        .as_ref()
        .map_or_else(|| "-".to_string(), |k| read(&k.counters))
}

fn journal(arm: &ArmReport) -> String {
    arm.kernel.as_ref().map_or_else(
        || "-".to_string(),
        |k| {
            let chain = if k.journal_verified {
                "chain verified"
            } else {
                "CHAIN BROKEN"
            };
            format!("{} lines, {chain}", k.journal_lines)
        },
    )
}

fn outcome(call: &CallRecord) -> String {
    let what = match call.outcome {
        Outcome::Dispatched => "dispatched",
        Outcome::ToolError => "tool error",
        Outcome::ServedLocally => "served locally (vDSO), no dispatch",
        Outcome::Quarantined => "dispatched, result quarantined",
        Outcome::PagedOut => "dispatched, result paged out",
        Outcome::Refused => "refused, no dispatch",
        Outcome::Held => "held for confirmation, no dispatch",
    };
    let repaired = if call.repaired { "repaired, " } else { "" };
    match &call.code {
        Some(code) => format!("{repaired}{what}: {code}"),
        None => format!("{repaired}{what}"),
    }
}

fn render(report: &AgentReport) -> String {
    let (d, k) = (&report.direct, &report.kernel);
    let both = |label, f: &dyn Fn(&ArmReport) -> String| (label, f(d), f(k));
    let counter = |label, read: fn(&CountersSnapshot) -> u64| {
        both(label, &|a| kernel_only(a, |c| read(c).to_string()))
    };
    let rows: Vec<(&str, String, String)> = vec![
        both("model turns", &|a| a.model_turns.to_string()),
        both("tool calls made", &|a| a.tool_calls.to_string()),
        both("tool calls that reached a tool", &|a| {
            a.tool_calls_dispatched.to_string()
        }),
        both("injection reached the model", &|a| {
            yes_no(a.injection_reached_model)
        }),
        both("destructive operation executed", &destructive),
        both("task completed", &completion),
        counter("denied", |c| c.denied),
        counter("quarantined", |c| c.quarantined),
        counter("repaired", |c| c.repaired),
        counter("served locally (vDSO)", |c| c.served_locally),
        both("refusal codes seen", &|a| {
            kernel_only(a, crate::refusal_codes::seen)
        }),
        both("audit journal", &journal),
    ];
    let label_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let left_w = rows
        .iter()
        .map(|r| r.1.len())
        .chain([DIRECT.len()])
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "fak agent --offline, task {}: {}\nkernel policy: {}\n\n",
        report.task.name(),
        report.prompt,
        report.policy
    );
    out.push_str(&format!("{:label_w$}  {DIRECT:left_w$}  {KERNEL}\n", ""));
    for (label, left, right) in &rows {
        out.push_str(&format!("{label:label_w$}  {left:left_w$}  {right}\n"));
    }
    for arm in [d, k] {
        let name = if arm.kernel.is_some() { KERNEL } else { DIRECT };
        out.push_str(&format!("\ncalls, {name}:\n"));
        let tool_w = arm.calls.iter().map(|c| c.tool.len()).max().unwrap_or(0);
        for call in &arm.calls {
            out.push_str(&format!(
                "  turn {:>2}  {:tool_w$}  {}\n",
                call.turn,
                call.tool,
                outcome(call)
            ));
        }
        let answer = arm
            .answer
            .as_deref()
            .unwrap_or("(none: the turn limit stopped the loop)");
        out.push_str(&format!("  answer: {answer}\n"));
    }
    out
}
