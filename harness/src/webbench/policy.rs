//! The three ways a fleet can pay for context, compared throughout the turn-tax geometry.

/// How prefill work is paid across turns and agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Policy {
    /// Every turn prefills the whole context again (no KV kept between turns).
    Naive,
    /// Each agent keeps its own KV cache; a turn prefills only what its cache lacks.
    PrivateKv,
    /// As private KV, but the prefix common to all agents is prefilled once for the fleet.
    SharedPrefix,
}

impl Policy {
    pub const ALL: [Policy; 3] = [Policy::Naive, Policy::PrivateKv, Policy::SharedPrefix];

    /// The name used in ledger ids and params.
    pub fn key(self) -> &'static str {
        match self {
            Policy::Naive => "naive",
            Policy::PrivateKv => "private_kv",
            Policy::SharedPrefix => "shared_prefix",
        }
    }

    /// The policy whose [`Policy::key`] is `key`.
    pub fn from_key(key: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.key() == key)
    }

    /// The name used in tables and figure legends.
    pub fn label(self) -> &'static str {
        match self {
            Policy::Naive => "naive re-prefill",
            Policy::PrivateKv => "private KV per agent",
            Policy::SharedPrefix => "shared prefix",
        }
    }
}
