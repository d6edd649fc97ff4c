//! Counters a caller can read at any time: what the kernel decided and screened.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::refusal::RefusalCode;

/// What can be counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// Calls decided.
    Decided,
    Allowed,
    Transformed,
    Held,
    Denied,
    /// Calls the repair ladder changed.
    Repaired,
    /// Calls answered by the vDSO.
    ServedLocally,
    Dispatched,
    /// Results admitted as they are.
    Admitted,
    PagedOut,
    Quarantined,
}

const KINDS: usize = 11;

/// Lock-free counters shared by all threads.
#[derive(Debug, Default)]
pub struct Counters {
    counts: [AtomicU64; KINDS],
    codes: [AtomicU64; RefusalCode::ALL.len()],
}

impl Counters {
    pub fn bump(&self, count: Count) {
        self.counts[count as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one refusal or quarantine by its code.
    pub fn bump_code(&self, code: RefusalCode) {
        self.codes[code.number() as usize - 1].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        let get = |c: Count| self.counts[c as usize].load(Ordering::Relaxed);
        CountersSnapshot {
            decided: get(Count::Decided),
            allowed: get(Count::Allowed),
            transformed: get(Count::Transformed),
            held: get(Count::Held),
            denied: get(Count::Denied),
            repaired: get(Count::Repaired),
            served_locally: get(Count::ServedLocally),
            dispatched: get(Count::Dispatched),
            admitted: get(Count::Admitted),
            paged_out: get(Count::PagedOut),
            quarantined: get(Count::Quarantined),
            codes: RefusalCode::ALL
                .iter()
                .zip(&self.codes)
                .map(|(code, n)| (code.name().to_string(), n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }
}

/// A point-in-time copy of the counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CountersSnapshot {
    pub decided: u64,
    pub allowed: u64,
    pub transformed: u64,
    pub held: u64,
    pub denied: u64,
    pub repaired: u64,
    pub served_locally: u64,
    pub dispatched: u64,
    pub admitted: u64,
    pub paged_out: u64,
    pub quarantined: u64,
    /// Refusal and quarantine codes seen, by name; codes never seen are left out.
    pub codes: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reports_counts_and_seen_codes_only() {
        let c = Counters::default();
        c.bump(Count::Denied);
        c.bump(Count::Denied);
        c.bump(Count::ServedLocally);
        c.bump_code(RefusalCode::Internal);
        let s = c.snapshot();
        assert_eq!(s.denied, 2);
        assert_eq!(s.served_locally, 1);
        assert_eq!(s.codes, BTreeMap::from([("INTERNAL".to_string(), 1)]));
    }
}
