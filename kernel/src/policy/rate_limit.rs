//! Rate limits: token buckets per trace, per tool and global, with a retry-after hint.
//!
//! A bucket holds up to `calls` tokens and refills at `calls / per_s` tokens a second.
//! A call takes one token from every bucket that applies, or from none: when any bucket is
//! empty the call is refused and told how long until that bucket has a token again.

use std::collections::HashMap;
use std::sync::Mutex;

use super::file::{LimitFile, RateLimitFile};
use crate::refusal::Refusal;

/// Past this many buckets, full (idle) per-trace buckets are dropped: a full bucket is
/// the same as a new one, so dropping it changes no answer.
const PRUNE_ABOVE_BUCKETS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum BucketKey {
    Trace(String),
    Tool(String),
    Global,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last_ms: u64,
}

impl Bucket {
    fn refill(&mut self, limit: LimitFile, now_ms: u64) {
        let elapsed_s = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        let rate_per_s = f64::from(limit.calls) / f64::from(limit.per_s);
        self.tokens = (self.tokens + elapsed_s * rate_per_s).min(f64::from(limit.calls));
        self.last_ms = now_ms.max(self.last_ms);
    }

    /// Milliseconds until one token is available (0 if it is now).
    fn wait_ms(&self, limit: LimitFile) -> u64 {
        if self.tokens >= 1.0 {
            return 0;
        }
        let rate_per_ms = f64::from(limit.calls) / (f64::from(limit.per_s) * 1000.0);
        ((1.0 - self.tokens) / rate_per_ms).ceil() as u64
    }
}

/// The buckets, shared by all threads.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

impl RateLimiter {
    /// Takes one token from each applicable bucket, or refuses without taking any.
    /// A poisoned lock refuses (fail closed).
    pub fn take(
        &self,
        limits: &RateLimitFile,
        trace: &str,
        tool: &str,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        let applicable: Vec<(BucketKey, LimitFile, String)> = [
            limits.per_trace.map(|l| {
                (
                    BucketKey::Trace(trace.to_string()),
                    l,
                    "per_trace".to_string(),
                )
            }),
            limits.per_tool.get(tool).map(|l| {
                (
                    BucketKey::Tool(tool.to_string()),
                    *l,
                    format!("per_tool \"{tool}\""),
                )
            }),
            limits
                .global
                .map(|l| (BucketKey::Global, l, "global".to_string())),
        ]
        .into_iter()
        .flatten()
        .collect();
        if applicable.is_empty() {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| Refusal::rate_limited("rate limiter unavailable", 1000))?;
        let mut worst: Option<(u64, &str)> = None;
        for (key, limit, label) in &applicable {
            let bucket = buckets.entry(key.clone()).or_insert(Bucket {
                tokens: f64::from(limit.calls),
                last_ms: now_ms,
            });
            bucket.refill(*limit, now_ms);
            let wait = bucket.wait_ms(*limit);
            if wait > 0 && worst.is_none_or(|(w, _)| wait > w) {
                worst = Some((wait, label));
            }
        }
        if let Some((wait, label)) = worst {
            return Err(Refusal::rate_limited(format!("{label} rate limit"), wait));
        }
        for (key, _, _) in &applicable {
            if let Some(b) = buckets.get_mut(key) {
                b.tokens -= 1.0;
            }
        }
        if buckets.len() > PRUNE_ABOVE_BUCKETS {
            buckets.retain(|key, bucket| match key {
                BucketKey::Trace(_) => {
                    let cap = limits.per_trace.map_or(0.0, |l| f64::from(l.calls));
                    bucket.tokens < cap
                }
                _ => true,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_trace: Option<(u32, u32)>, global: Option<(u32, u32)>) -> RateLimitFile {
        let l = |(calls, per_s)| LimitFile { calls, per_s };
        RateLimitFile {
            per_trace: per_trace.map(l),
            per_tool: Default::default(),
            global: global.map(l),
        }
    }

    #[test]
    fn bucket_empties_then_refills_with_a_truthful_hint() {
        let rl = RateLimiter::default();
        let lim = limits(Some((2, 10)), None);
        assert!(rl.take(&lim, "t", "x", 0).is_ok());
        assert!(rl.take(&lim, "t", "x", 0).is_ok());
        let refused = rl.take(&lim, "t", "x", 0).unwrap_err();
        // 2 calls per 10 s: one token every 5000 ms.
        assert_eq!(refused.retry_after_ms, Some(5000));
        assert!(rl.take(&lim, "t", "x", 4999).is_err());
        assert!(rl.take(&lim, "t", "x", 5000).is_ok());
    }

    #[test]
    fn traces_have_separate_buckets_but_share_the_global_one() {
        let rl = RateLimiter::default();
        let lim = limits(Some((1, 60)), Some((2, 60)));
        assert!(rl.take(&lim, "a", "x", 0).is_ok());
        assert!(rl.take(&lim, "a", "x", 0).is_err());
        assert!(rl.take(&lim, "b", "x", 0).is_ok());
        let refused = rl.take(&lim, "c", "x", 0).unwrap_err();
        assert!(refused.item.contains("global"), "{}", refused.item);
    }

    #[test]
    fn a_refused_call_takes_no_token() {
        let rl = RateLimiter::default();
        let lim = limits(Some((1, 1)), Some((5, 1)));
        assert!(rl.take(&lim, "a", "x", 0).is_ok());
        for _ in 0..10 {
            assert!(rl.take(&lim, "a", "x", 0).is_err());
        }
        // The global bucket still has 4 tokens: four other traces pass.
        for t in ["b", "c", "d", "e"] {
            assert!(rl.take(&lim, t, "x", 0).is_ok(), "{t}");
        }
    }
}
