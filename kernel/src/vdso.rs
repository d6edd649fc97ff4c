//! The vDSO: answers a repeated read locally instead of dispatching it again.
//!
//! Consulted only after the policy has allowed the call, and only for tools that declare
//! themselves read-only and idempotent. An answer is keyed by tool, the sha256 of the
//! canonical arguments, the world epoch (advanced by every write-shaped dispatch) and the
//! policy epoch (advanced by every reload), so a write or a reload makes older answers
//! unreachable; they are also dropped then to free memory. An optional TTL bounds how
//! stale an answer may be even when nothing visible changed.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::admission::Admission;

/// What makes two calls "the same" for the vDSO.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VdsoKey {
    pub tool: String,
    pub args_sha256: String,
    pub world_epoch: u64,
    pub policy_epoch: u64,
}

#[derive(Clone, Debug)]
struct Entry {
    admission: Admission,
    stored_at_ms: u64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<VdsoKey, Entry>,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<VdsoKey>,
}

/// The answer cache, shared by all threads.
#[derive(Debug, Default)]
pub struct Vdso {
    inner: Mutex<Inner>,
}

impl Vdso {
    /// A stored answer for `key`, if one is there and younger than `ttl_ms`.
    pub fn get(&self, key: &VdsoKey, now_ms: u64, ttl_ms: Option<u64>) -> Option<Admission> {
        // A poisoned cache answers nothing: the call is dispatched instead.
        let inner = self.inner.lock().ok()?;
        let entry = inner.entries.get(key)?;
        let fresh = ttl_ms.is_none_or(|ttl| now_ms.saturating_sub(entry.stored_at_ms) < ttl);
        fresh.then(|| entry.admission.clone())
    }

    /// Stores an answer, evicting the oldest past `max_entries`.
    pub fn put(&self, key: VdsoKey, admission: Admission, now_ms: u64, max_entries: usize) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner
            .entries
            .insert(
                key.clone(),
                Entry {
                    admission,
                    stored_at_ms: now_ms,
                },
            )
            .is_none()
        {
            inner.order.push_back(key);
        }
        while inner.entries.len() > max_entries {
            match inner.order.pop_front() {
                Some(old) => {
                    inner.entries.remove(&old);
                }
                None => break,
            }
        }
    }

    /// Drops every answer not of the given epochs.
    pub fn retain_epochs(&self, world_epoch: u64, policy_epoch: u64) {
        if let Ok(mut inner) = self.inner.lock() {
            let current =
                |k: &VdsoKey| k.world_epoch == world_epoch && k.policy_epoch == policy_epoch;
            inner.entries.retain(|k, _| current(k));
            inner.order.retain(current);
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{ModelView, ScreenVerdict, Screening, Trust};

    fn key(tool: &str, world: u64) -> VdsoKey {
        VdsoKey {
            tool: tool.into(),
            args_sha256: "d".into(),
            world_epoch: world,
            policy_epoch: 0,
        }
    }

    fn answer(text: &str) -> Admission {
        Admission {
            tool: "t".into(),
            trust: Trust::Trusted,
            screening: Screening {
                verdict: ScreenVerdict::Admit,
                bytes: text.len(),
                injection_score: 0,
                signals: vec![],
                secret: None,
            },
            view: ModelView::Text { text: text.into() },
        }
    }

    #[test]
    fn ttl_expires_answers() {
        let v = Vdso::default();
        v.put(key("a", 0), answer("x"), 0, 8);
        assert!(v.get(&key("a", 0), 999, Some(1000)).is_some());
        assert!(v.get(&key("a", 0), 1000, Some(1000)).is_none());
        assert!(v.get(&key("a", 0), 10_000, None).is_some());
    }

    #[test]
    fn oldest_answer_is_evicted_first() {
        let v = Vdso::default();
        for t in ["a", "b", "c"] {
            v.put(key(t, 0), answer(t), 0, 2);
        }
        assert!(v.get(&key("a", 0), 0, None).is_none());
        assert!(v.get(&key("c", 0), 0, None).is_some());
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn new_epoch_drops_old_answers() {
        let v = Vdso::default();
        v.put(key("a", 0), answer("x"), 0, 8);
        v.retain_epochs(1, 0);
        assert!(v.is_empty());
    }
}
