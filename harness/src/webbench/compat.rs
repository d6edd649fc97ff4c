//! The published turn-tax geometry, reproduced exactly. Its totals (170,930,292 naive and
//! 19,386,804 shared-prefix tokens at one worker) are the contract: change nothing here
//! without changing what it reproduces.

use super::WebbenchError;
use super::policy::Policy;
use super::report::{ContextCurve, FleetRow, Geometry, PerPolicy, Report};
use super::tasks::{Difficulty, Task};

/// Tokens of system prompt and tool schemas the geometry assumes every task carries.
pub const BASE_PREFIX_TOKENS: u64 = 3000;
/// Tokens of history (observation and reply) the geometry assumes each turn adds.
pub const HISTORY_TOKENS_PER_TURN: u64 = 2150;

/// A task as the geometry sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Prefix tokens P.
    pub prefix: u64,
    /// Turns T.
    pub turns: u64,
}

impl Shape {
    /// P = 3000 + len/4 + len/4, where len is the task text's length in UTF-8 bytes: the
    /// text is counted twice (once stated, once echoed). Bytes, not characters: three
    /// tasks hold non-ASCII text, and only the byte count reproduces the published totals.
    pub fn of_task(task: &Task) -> Self {
        let quarter = task.ques.len() as u64 / 4;
        Shape {
            prefix: BASE_PREFIX_TOKENS + quarter + quarter,
            turns: Difficulty::of_site(&task.web_name).turns(),
        }
    }

    /// Prefilled tokens for `workers` agents running this task under `policy`:
    /// naive = w(TP + 2150·T(T-1)/2), private = w(P + 2150(T-1)),
    /// shared = P + w·2150(T-1).
    pub fn prefill(self, workers: u64, policy: Policy) -> u128 {
        self.prefill_with_history(workers, policy, HISTORY_TOKENS_PER_TURN)
    }

    /// [`Shape::prefill`] with `history` tokens per turn in place of 2150 (the live fleet
    /// runs small turns).
    pub fn prefill_with_history(self, workers: u64, policy: Policy, history: u64) -> u128 {
        let (p, t, w) = (self.prefix as u128, self.turns as u128, workers as u128);
        let h = history as u128;
        // T(T-1) is even, so the halving is exact.
        match policy {
            Policy::Naive => w * (t * p + h * t * (t - 1) / 2),
            Policy::PrivateKv => w * (p + h * (t - 1)),
            Policy::SharedPrefix => p + w * h * (t - 1),
        }
    }

    /// Context length at turn `turn` (1-based): the prefix and the history before it.
    pub fn context_at(self, turn: u64) -> u128 {
        self.prefix as u128 + HISTORY_TOKENS_PER_TURN as u128 * (turn as u128 - 1)
    }
}

/// The compat report over `tasks` for each fleet size in `workers`.
pub fn describe(tasks: &[Task], workers: &[u64]) -> Result<Report, WebbenchError> {
    let max_workers = super::check_workers(workers)?;
    let shapes: Vec<Shape> = tasks.iter().map(Shape::of_task).collect();
    let fleet = workers
        .iter()
        .map(|&w| FleetRow {
            workers: w,
            prefill_tokens: PerPolicy::from_fn(|policy| {
                shapes.iter().map(|s| s.prefill(w, policy)).sum()
            }),
            prefill_attention_flops: None,
            decode_tokens: None,
            decode_attention_flops: None,
        })
        .collect();
    Ok(Report {
        geometry: Geometry::Compat,
        task_count: tasks.len(),
        fleet,
        context: context_curve(&shapes, max_workers),
        basis: format!(
            "P = {BASE_PREFIX_TOKENS} + 2(len/4) tokens, {HISTORY_TOKENS_PER_TURN} tokens a turn, 5/12/25 turns by site"
        ),
        assumptions: assumptions(),
    })
}

/// The curve of a representative task: the mean prefix over all tasks (rounded down) and
/// the longest turn count, so the curve spans every context length the geometry reaches.
fn context_curve(shapes: &[Shape], workers: u64) -> ContextCurve {
    let mean_prefix = shapes.iter().map(|s| s.prefix).sum::<u64>() / shapes.len() as u64;
    let max_turns = shapes.iter().map(|s| s.turns).max().unwrap_or(1);
    let at = |turns| Shape {
        prefix: mean_prefix,
        turns,
    };
    let turns = 1..=max_turns;
    ContextCurve {
        shape: format!(
            "mean prefix {} tokens, {max_turns} turns",
            crate::number::grouped(mean_prefix as f64)
        ),
        workers,
        x_label: "context length",
        x_unit: "tokens",
        x: turns.clone().map(|t| at(max_turns).context_at(t)).collect(),
        cumulative_prefill: PerPolicy::from_fn(|policy| {
            turns
                .clone()
                .map(|t| at(t).prefill(workers, policy))
                .collect()
        }),
    }
}

fn assumptions() -> Vec<String> {
    vec![
        format!(
            "prefix P = {BASE_PREFIX_TOKENS} + len/4 + len/4 tokens, len = task text in UTF-8 bytes (integer division; the text counted twice)"
        ),
        "turns T by site: easy 5 (ESPN, Google Search), hard 25 (Amazon, Apple, Coursera), every other site 12".to_string(),
        format!("each turn adds {HISTORY_TOKENS_PER_TURN} tokens of history; w workers run every task"),
        "naive = w(TP + 2150·T(T-1)/2); private KV = w(P + 2150(T-1)); shared prefix = P + w·2150(T-1)".to_string(),
        "decode and attention are not priced in this geometry (see --mode measured)".to_string(),
    ]
}
