//! Taint, per trace: which untrusted sources have put content into a conversation.
//!
//! Taint only grows. A trace that received a result from an untrusted source carries that
//! source's name until the trace is forgotten; the taint rung then refuses sinks the
//! policy has not authorized for that source. Taint is recorded whatever the detector
//! said about the content: the detector can be evaded, the flow rule cannot.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

/// Taint sources per trace id, shared by all threads.
#[derive(Debug, Default)]
pub struct TaintTable {
    traces: RwLock<HashMap<String, BTreeSet<String>>>,
}

impl TaintTable {
    /// Records that `source` put content into `trace`.
    pub fn taint(&self, trace: &str, source: &str) {
        // The sets only grow, so a panic elsewhere cannot leave one half-written: a
        // poisoned lock still holds valid data, and dropping taint would fail open.
        let mut traces = self.traces.write().unwrap_or_else(|e| e.into_inner());
        traces
            .entry(trace.to_string())
            .or_default()
            .insert(source.to_string());
    }

    /// The untrusted sources that have tainted `trace` (empty if clean).
    pub fn sources(&self, trace: &str) -> BTreeSet<String> {
        let traces = self.traces.read().unwrap_or_else(|e| e.into_inner());
        traces.get(trace).cloned().unwrap_or_default()
    }

    /// Drops a finished trace's taint. Only for traces that will not be used again.
    pub fn forget(&self, trace: &str) {
        let mut traces = self.traces.write().unwrap_or_else(|e| e.into_inner());
        traces.remove(trace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taint_is_per_trace_and_accumulates() {
        let t = TaintTable::default();
        t.taint("a", "web");
        t.taint("a", "mail");
        assert_eq!(t.sources("a").len(), 2);
        assert!(t.sources("b").is_empty());
        t.forget("a");
        assert!(t.sources("a").is_empty());
    }
}
