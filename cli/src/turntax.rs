//! `fak turntax`: replays a recorded trace of tool calls through the kernel and prints
//! what each call came to, the turns a naive loop spent for nothing, the safety counters,
//! and what the saved turns cost under stated assumptions.

use std::path::PathBuf;

use anyhow::{Result, bail};
use fak_kernel::CountersSnapshot;
use fak_kernel::scenario::replay::{self, Class, ReplayReport, Trace};
use serde::Serialize;

use crate::exit::Status;

const HELP: &str = "Exit status:
  0  the trace was replayed (whatever the kernel decided; read the report)
  2  usage error, or a trace or policy file that is missing or invalid";

/// The trace replayed when `--trace` is not given.
const BUILTIN_TRACE: &str = include_str!("../../data/traces/support-attacks.json");
const BUILTIN_TRACE_NAME: &str = "data/traces/support-attacks.json (built in)";

/// Replay a recorded trace of tool calls through the kernel's syscall path and count the
/// turns and harm it saves.
#[derive(Debug, clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    /// A `fak-trace/v1` file (default: the built-in support-attacks trace; more in
    /// data/traces/).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Replay under this policy instead of the trace's own.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Tokens one model turn costs (assumed; the default is the per-turn history of the
    /// published turn-tax geometry).
    #[arg(long, default_value_t = 2150)]
    tokens_per_turn: u64,
    /// Seconds one model turn takes, generation and tool round trip (assumed).
    #[arg(long, default_value_t = 2.0)]
    seconds_per_turn: f64,
    /// Price of input tokens in USD per million (assumed).
    #[arg(long, default_value_t = 3.0)]
    usd_per_mtok: f64,
    /// Print the report as one JSON object (README: "fak turntax").
    #[arg(long)]
    json: bool,
}

/// What the saved turns cost, and the assumptions that price them.
#[derive(Debug, Serialize)]
struct Cost {
    turns: usize,
    tokens_per_turn: u64,
    seconds_per_turn: f64,
    usd_per_million_tokens: f64,
    tokens: u64,
    seconds: f64,
    usd: f64,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a ReplayReport,
    cost: Cost,
}

pub fn run(args: Args) -> Result<Status> {
    if !(args.seconds_per_turn.is_finite() && args.seconds_per_turn >= 0.0) {
        bail!("--seconds-per-turn must be a number of seconds, 0 or more");
    }
    if !(args.usd_per_mtok.is_finite() && args.usd_per_mtok >= 0.0) {
        bail!("--usd-per-mtok must be a price in USD, 0 or more");
    }
    let (trace, file) = match &args.trace {
        Some(path) => (Trace::load(path)?, path.display().to_string()),
        None => (
            Trace::parse(BUILTIN_TRACE, BUILTIN_TRACE_NAME)?,
            BUILTIN_TRACE_NAME.to_string(),
        ),
    };
    let policy = match &args.policy {
        Some(path) => crate::policy::load(Some(path), None)?,
        None => trace.policy(&file, &std::env::current_dir()?)?,
    };
    let report = replay::replay(&trace, policy);
    let turns = report.turns_saved.total;
    let tokens = turns as u64 * args.tokens_per_turn;
    let cost = Cost {
        turns,
        tokens_per_turn: args.tokens_per_turn,
        seconds_per_turn: args.seconds_per_turn,
        usd_per_million_tokens: args.usd_per_mtok,
        tokens,
        seconds: turns as f64 * args.seconds_per_turn,
        usd: tokens as f64 * args.usd_per_mtok / 1e6,
    };
    if args.json {
        let out = Output {
            report: &report,
            cost,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", render(&report, &cost));
    }
    Ok(Status::Ok)
}

fn class_name(class: Class) -> &'static str {
    match class {
        Class::Denied => "denied",
        Class::Held => "held",
        Class::Quarantined => "quarantined",
        Class::VdsoHit => "vDSO hit",
        Class::Repaired => "repaired",
        Class::Passed => "passed",
        Class::Skipped => "skipped (its call was repaired)",
    }
}

fn counters_line(c: &CountersSnapshot) -> String {
    format!(
        "denied {}, quarantined {}, repaired {}, served locally {}; codes seen: {}",
        c.denied,
        c.quarantined,
        c.repaired,
        c.served_locally,
        crate::refusal_codes::seen(c)
    )
}

fn render(r: &ReplayReport, cost: &Cost) -> String {
    let mut out = format!(
        "fak turntax: trace {} ({} recorded calls), policy {}\n",
        r.trace, r.recorded_calls, r.policy
    );
    if !r.description.is_empty() {
        out.push_str(&format!("{}\n", r.description));
    }
    let tool_w = r.calls.iter().map(|c| c.tool.len()).max().unwrap_or(4);
    out.push_str(&format!(
        "\n{:>4}  {:tool_w$}  live verdict\n",
        "call", "tool"
    ));
    for c in &r.calls {
        let code = c
            .code
            .as_deref()
            .map(|k| format!(": {k}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:>4}  {:tool_w$}  {}{code}\n",
            c.n,
            c.tool,
            class_name(c.class)
        ));
    }
    let t = &r.turns_saved;
    out.push_str(&format!(
        "\nturns saved: {} of {} recorded\n  forced, a naive loop spends them whatever the agent does: {} (retries of repaired calls: {}, duplicates answered locally: {})\n  skippable, a careful agent would not have made these calls: {} (refused or held before dispatch)\n",
        t.total, r.recorded_calls, t.forced, t.repairs, t.duplicates, t.skippable
    ));
    out.push_str(&format!(
        "kernel counters: {}\n",
        counters_line(&r.counters)
    ));
    let label_w = "destructive operations executed".len();
    out.push_str(&format!(
        "\n{:label_w$}  {:10}  behind the kernel\n",
        "safety", "naive loop"
    ));
    for (label, naive, kernel) in [
        (
            "injections admitted",
            r.naive.injections_admitted,
            r.kernel.injections_admitted,
        ),
        (
            "destructive operations executed",
            r.naive.destructive_executed,
            r.kernel.destructive_executed,
        ),
    ] {
        out.push_str(&format!("{label:label_w$}  {naive:<10}  {kernel}\n"));
    }
    out.push_str(&format!(
        "\ncost of the saved turns: {} tokens, {:.1} s, {:.4} USD\n  assumed: {} tokens per turn, {:.1} s per turn, {:.2} USD per million input tokens (set with --tokens-per-turn, --seconds-per-turn, --usd-per-mtok)\n",
        cost.tokens,
        cost.seconds,
        cost.usd,
        cost.tokens_per_turn,
        cost.seconds_per_turn,
        cost.usd_per_million_tokens
    ));
    out
}
