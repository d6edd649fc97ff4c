//! What `webbench describe` computes, in either mode: prefill work per policy across fleet
//! sizes, and one task's cumulative prefill as its context grows.

use super::policy::Policy;

/// Which geometry produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Geometry {
    /// The published formulas, reproduced exactly.
    Compat,
    /// Per-turn sizes from recorded trajectories.
    Measured,
}

impl Geometry {
    pub fn key(self) -> &'static str {
        match self {
            Geometry::Compat => "compat",
            Geometry::Measured => "measured",
        }
    }
}

/// A quantity for each policy, indexed in [`Policy::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerPolicy<T>(pub [T; 3]);

impl<T> PerPolicy<T> {
    pub fn from_fn(f: impl FnMut(Policy) -> T) -> Self {
        PerPolicy(Policy::ALL.map(f))
    }

    pub fn of(&self, policy: Policy) -> &T {
        &self.0[policy as usize]
    }
}

impl<T: Copy> PerPolicy<T> {
    pub fn get(&self, policy: Policy) -> T {
        self.0[policy as usize]
    }
}

/// Totals over every task for one fleet size.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRow {
    /// Agents running each task.
    pub workers: u64,
    /// Prefilled tokens.
    pub prefill_tokens: PerPolicy<u128>,
    /// Attention FLOPs of the prefill (measured mode only).
    pub prefill_attention_flops: Option<PerPolicy<f64>>,
    /// Decoded tokens, the same under every policy (measured mode only).
    pub decode_tokens: Option<u128>,
    /// Attention FLOPs of the decode, the same under every policy (measured mode only).
    pub decode_attention_flops: Option<f64>,
}

/// One task shape's cumulative prefill, turn by turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextCurve {
    /// Which task shape ("mean prefix 3,057 tokens, 25 turns").
    pub shape: String,
    pub workers: u64,
    /// What x is and its unit.
    pub x_label: &'static str,
    pub x_unit: &'static str,
    /// x per turn.
    pub x: Vec<u128>,
    /// Cumulative prefilled tokens per turn, per policy.
    pub cumulative_prefill: PerPolicy<Vec<u128>>,
}

/// Everything one run of `webbench describe` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub geometry: Geometry,
    /// Tasks the totals cover.
    pub task_count: usize,
    pub fleet: Vec<FleetRow>,
    pub context: ContextCurve,
    /// The few facts a reader of one number needs (what sizes and shape it rests on),
    /// in one line.
    pub basis: String,
    /// Every assumption the numbers rest on, in words.
    pub assumptions: Vec<String>,
}
