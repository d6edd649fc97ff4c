//! `fak preflight`: what the kernel would decide about one call, without running it.

use std::path::PathBuf;

use anyhow::Result;
use fak_kernel::decide::RungOutcome;
use fak_kernel::repair::{RepairStep, repair};
use fak_kernel::{Decision, Kernel, RawCall, Verdict};
use serde::Serialize;

use crate::exit::{self, Status};

/// Decide one tool call against a policy, without dispatching it.
#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
pub struct Args {
    /// Policy file (default: the built-in starter policy, see `fak policy dump`).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Directory relative paths and globs are resolved against (default: the current one).
    #[arg(long)]
    base_dir: Option<PathBuf>,
    /// Tool name.
    #[arg(long)]
    tool: String,
    /// Arguments as JSON text (repaired like a model's would be).
    #[arg(long, default_value = "{}")]
    args: String,
    /// Decide as if the trace had received results from this untrusted source
    /// (repeatable).
    #[arg(long, value_name = "SOURCE")]
    tainted_by: Vec<String>,
    /// Print the decision as a JSON object.
    #[arg(long)]
    json: bool,
    /// Show every rung's verdict and which one won.
    #[arg(long)]
    explain: bool,
}

const TRACE: &str = "preflight";

#[derive(Debug, Serialize)]
struct Report<'a> {
    tool: &'a str,
    repairs: &'a [RepairStep],
    #[serde(flatten)]
    decision: &'a Decision,
    winner: Option<fak_kernel::Rung>,
}

pub fn run(args: Args) -> Result<Status> {
    let policy = crate::policy::load(args.policy.as_ref(), args.base_dir)?;
    let kernel = Kernel::builder(policy).build();
    for source in &args.tainted_by {
        kernel.admit(TRACE, source, Some(fak_kernel::Trust::Untrusted), "");
    }
    let (repairs, decision) = match repair(&RawCall::text(&args.tool, &args.args), None) {
        Ok(r) => (r.steps, kernel.decide(TRACE, &r.call, None, None)),
        Err(refusal) => (Vec::new(), Decision::refused(refusal)),
    };
    let report = Report {
        tool: &args.tool,
        repairs: &repairs,
        decision: &decision,
        winner: decision.winner(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", one_line(&args.tool, &decision.verdict));
        if args.explain {
            print!("{}", explain(&report));
        }
    }
    Ok(match decision.verdict {
        Verdict::Allow | Verdict::Transform(_) => Status::Ok,
        Verdict::Hold(_) => Status::Held,
        Verdict::Deny(_) => Status::Refused,
    })
}

fn one_line(tool: &str, verdict: &Verdict) -> String {
    match verdict {
        Verdict::Allow => format!("ALLOW {tool}"),
        Verdict::Transform(t) => format!(
            "TRANSFORM {tool}: redact {}",
            t.redact.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        Verdict::Hold(h) => format!(
            "HOLD {tool}: needs confirmation (token {}): {}",
            h.token, h.preview
        ),
        Verdict::Deny(r) => format!("DENY {tool}: {r}"),
    }
}

fn explain(report: &Report<'_>) -> String {
    let mut out = String::new();
    for step in report.repairs {
        out.push_str(&format!(
            "  repair        {}\n",
            serde_json::to_string(step).unwrap_or_default()
        ));
    }
    for rung in &report.decision.rungs {
        let name = serde_json::to_value(rung.rung)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let what = match &rung.outcome {
            RungOutcome::Pass => "pass".to_string(),
            RungOutcome::Skipped => "skipped (already denied)".to_string(),
            RungOutcome::Verdict { verdict } => one_line(report.tool, verdict),
        };
        out.push_str(&format!("  {name:<13} {what}\n"));
    }
    let winner = report
        .winner
        .and_then(|w| serde_json::to_value(w).ok())
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "repair".to_string());
    out.push_str(&format!("winner: {winner}\n"));
    out
}
