//! The gates: every comparison `harness verify` makes, named once so a backend that is
//! not run still gets its rows.

use fak_backends::parity::{BitComparison, OpSweep};
use fak_backends::{BackendKind, MathFn};

/// The KV cache object's gates, run on every backend against that backend's own cold or
/// uninterrupted run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvGate {
    /// The first span cut out.
    ExciseStart,
    /// A middle span that crosses a block boundary cut out.
    ExciseAcrossBlocks,
    /// The last span cut out.
    ExciseEnd,
    /// Two spans cut out one after the other.
    ExciseTwice,
    /// Two forks of one session, each appending its own turns.
    ForkAppend,
    /// A prefill sent in chunks of uneven sizes.
    Chunked,
    /// A prefill sent one token at a time (decode steps).
    TokenByToken,
    /// A session dumped, loaded into a fresh store, and continued.
    DumpLoadContinue,
}

impl KvGate {
    pub const ALL: [KvGate; 8] = [
        Self::ExciseStart,
        Self::ExciseAcrossBlocks,
        Self::ExciseEnd,
        Self::ExciseTwice,
        Self::ForkAppend,
        Self::Chunked,
        Self::TokenByToken,
        Self::DumpLoadContinue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::ExciseStart => "kv excise span at start",
            Self::ExciseAcrossBlocks => "kv excise middle span across a block boundary",
            Self::ExciseEnd => "kv excise span at end",
            Self::ExciseTwice => "kv excise two spans in a row",
            Self::ForkAppend => "kv fork + append",
            Self::Chunked => "kv prefill in chunks",
            Self::TokenByToken => "kv prefill token by token",
            Self::DumpLoadContinue => "kv dump, load, continue",
        }
    }

    /// What the gate holds the result to.
    pub fn baseline(self) -> &'static str {
        match self {
            Self::ExciseStart
            | Self::ExciseAcrossBlocks
            | Self::ExciseEnd
            | Self::ExciseTwice
            | Self::ForkAppend => "cold prefill",
            Self::Chunked | Self::TokenByToken => "one-shot prefill",
            Self::DumpLoadContinue => "uninterrupted session",
        }
    }
}

/// One comparison `harness verify` makes on one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// An op sweep against the CPU reference.
    Op(OpSweep),
    /// One of the math functions every op is built from, against the CPU reference.
    Math(MathFn),
    /// The KV cache object on this backend against its own cold or uninterrupted run.
    Kv(KvGate),
    /// A fixture model's logits and KV bytes against the CPU's.
    Model(String),
}

impl Gate {
    /// The gate's name in the table and the JSON rows.
    pub fn name(&self) -> String {
        match self {
            Self::Op(sweep) => format!("op {}", sweep.name()),
            Self::Math(f) => format!("op math {}", format!("{f:?}").to_lowercase()),
            Self::Kv(g) => g.name().to_owned(),
            Self::Model(fixture) => format!("model {fixture}"),
        }
    }

    /// What the gate compares with what.
    pub fn compared(&self) -> String {
        match self {
            Self::Op(_) | Self::Math(_) => "outputs vs cpu".to_owned(),
            Self::Kv(g) => format!("KV + logits vs {}", g.baseline()),
            Self::Model(_) => "logits + KV vs cpu".to_owned(),
        }
    }

    /// Every gate for `backend`, in report order. The CPU is the reference, so it has no
    /// gate that compares a backend with the CPU; the KV gates run everywhere.
    pub fn all_for(backend: BackendKind, fixtures: &[String]) -> Vec<Gate> {
        let mut gates = Vec::new();
        if backend != BackendKind::Cpu {
            gates.extend(OpSweep::ALL.map(Self::Op));
            gates.extend(MathFn::ALL.map(Self::Math));
        }
        gates.extend(KvGate::ALL.map(Self::Kv));
        if backend != BackendKind::Cpu {
            gates.extend(fixtures.iter().cloned().map(Self::Model));
        }
        gates
    }
}

/// What a gate found: the comparison, and anything else wrong (`None` when all is well).
#[derive(Debug, Clone)]
pub struct Measured {
    pub comparison: BitComparison,
    pub problem: Option<String>,
}

impl Measured {
    /// A comparison with nothing else to report.
    pub fn of(comparison: BitComparison) -> Self {
        Self {
            comparison,
            problem: None,
        }
    }
}
