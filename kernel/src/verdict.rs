//! Verdicts and the fold that combines them: the most restrictive verdict wins.
//!
//! Restrictiveness: ALLOW < TRANSFORM < HOLD < DENY. Two verdicts of the same kind merge
//! (two transforms apply both redaction sets) or pick a fixed winner by value (two denies:
//! the one with the more final disposition, then the lower code number, then the item), so
//! the fold gives the same answer in any order. An empty fold is DEFAULT_DENY.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::Serialize;

use crate::refusal::{Disposition, Refusal, RefusalCode};

/// A change the kernel makes to a call before it is dispatched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Transform {
    /// Argument keys whose values are replaced by `"[REDACTED]"`, at any depth.
    pub redact: BTreeSet<String>,
}

/// What replaces a redacted argument's value.
pub const REDACTED: &str = "[REDACTED]";

impl Transform {
    /// The arguments with every redacted key's value replaced, at any depth.
    pub fn apply(&self, args: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match args {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = if self.redact.contains(k) {
                            Value::String(REDACTED.to_string())
                        } else {
                            self.apply(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            other => other.clone(),
        }
    }
}

/// A call held for confirmation: it passes when re-sent with `token`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Hold {
    /// Bound to the tool and its canonical arguments; single use.
    pub token: String,
    /// What the call would do, for the human who confirms it: tool and canonical
    /// arguments, cut to a bounded length.
    pub preview: String,
    /// Kernel clock time (milliseconds) after which the token is void.
    pub expires_at_ms: u64,
}

/// The outcome of deciding one call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Allow,
    Transform(Transform),
    Hold(Hold),
    Deny(Refusal),
}

impl Verdict {
    /// 0 (ALLOW) to 3 (DENY).
    pub fn restrictiveness(&self) -> u8 {
        match self {
            Verdict::Allow => 0,
            Verdict::Transform(_) => 1,
            Verdict::Hold(_) => 2,
            Verdict::Deny(_) => 3,
        }
    }

    /// The verdict's name: `ALLOW`, `TRANSFORM`, `HOLD` or `DENY`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Allow => "ALLOW",
            Verdict::Transform(_) => "TRANSFORM",
            Verdict::Hold(_) => "HOLD",
            Verdict::Deny(_) => "DENY",
        }
    }

    /// True for ALLOW and TRANSFORM: the call may be dispatched.
    pub fn permits_dispatch(&self) -> bool {
        matches!(self, Verdict::Allow | Verdict::Transform(_))
    }

    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Verdict::Deny(r) => Some(r),
            _ => None,
        }
    }

    /// The verdict every empty or failed decision becomes.
    pub fn default_deny(item: impl Into<String>) -> Verdict {
        Verdict::Deny(Refusal::new(RefusalCode::DefaultDeny, item))
    }
}

/// Folds verdicts: the most restrictive wins; an empty fold is DEFAULT_DENY.
pub fn fold(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    verdicts
        .into_iter()
        .reduce(combine)
        .unwrap_or_else(|| Verdict::default_deny("no rule decided the call"))
}

/// Combines two verdicts; commutative and associative, which makes `fold` order-free.
pub fn combine(a: Verdict, b: Verdict) -> Verdict {
    match a.restrictiveness().cmp(&b.restrictiveness()) {
        Ordering::Greater => a,
        Ordering::Less => b,
        Ordering::Equal => match (a, b) {
            (Verdict::Transform(mut x), Verdict::Transform(y)) => {
                x.redact.extend(y.redact);
                Verdict::Transform(x)
            }
            (Verdict::Hold(x), Verdict::Hold(y)) => Verdict::Hold(x.min(y)),
            (Verdict::Deny(x), Verdict::Deny(y)) => {
                if deny_precedence(&x, &y) == Ordering::Greater {
                    Verdict::Deny(y)
                } else {
                    Verdict::Deny(x)
                }
            }
            (a, _) => a,
        },
    }
}

/// Which of two denials is reported: the more final disposition first (a terminal code is
/// not hidden behind a retryable one), then the lower code, then the item. `Less` means
/// `x` wins.
fn deny_precedence(x: &Refusal, y: &Refusal) -> Ordering {
    let finality = |r: &Refusal| match r.code.disposition() {
        Disposition::Terminal => 0,
        Disposition::Escalate => 1,
        Disposition::Wait => 2,
        Disposition::Retry => 3,
    };
    finality(x)
        .cmp(&finality(y))
        .then_with(|| x.code.cmp(&y.code))
        .then_with(|| x.item.cmp(&y.item))
        .then_with(|| x.retry_after_ms.cmp(&y.retry_after_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_verdict() -> impl Strategy<Value = Verdict> {
        let code = proptest::sample::select(RefusalCode::ALL.to_vec());
        prop_oneof![
            Just(Verdict::Allow),
            proptest::collection::btree_set("[a-c]{1,2}", 0..3)
                .prop_map(|redact| Verdict::Transform(Transform { redact })),
            ("[a-d]{4}", 0u64..3).prop_map(|(token, exp)| Verdict::Hold(Hold {
                token,
                preview: "p".into(),
                expires_at_ms: exp,
            })),
            (code, "[a-c]{0,2}").prop_map(|(c, item)| Verdict::Deny(Refusal::new(c, item))),
        ]
    }

    #[test]
    fn empty_fold_is_default_deny() {
        let v = fold(Vec::new());
        assert_eq!(v.refusal().unwrap().code, RefusalCode::DefaultDeny);
    }

    #[test]
    fn transforms_merge_their_redactions() {
        let t = |k: &str| {
            Verdict::Transform(Transform {
                redact: [k.to_string()].into(),
            })
        };
        let Verdict::Transform(merged) = fold([t("a"), Verdict::Allow, t("b")]) else {
            panic!("expected a transform");
        };
        assert_eq!(merged.redact, ["a".to_string(), "b".to_string()].into());
    }

    #[test]
    fn transform_redacts_nested_keys_only() {
        let t = Transform {
            redact: ["token".to_string()].into(),
        };
        let out = t.apply(&serde_json::json!({"token": "s3cret", "q": "x", "h": [{"token": 1}]}));
        assert_eq!(
            out,
            serde_json::json!({"token": REDACTED, "q": "x", "h": [{"token": REDACTED}]})
        );
    }

    #[test]
    fn terminal_denial_is_not_hidden_behind_a_retryable_one() {
        let v = fold([
            Verdict::Deny(Refusal::new(RefusalCode::Malformed, "x")),
            Verdict::Deny(Refusal::new(RefusalCode::SelfModify, "y")),
        ]);
        assert_eq!(v.refusal().unwrap().code, RefusalCode::SelfModify);
    }

    proptest! {
        #[test]
        fn fold_is_order_independent(mut vs in proptest::collection::vec(arb_verdict(), 0..8), seed in any::<u64>()) {
            let forward = fold(vs.clone());
            // A deterministic shuffle driven by the seed.
            let n = vs.len();
            let mut s = seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                vs.swap(i, (s >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(forward, fold(vs));
        }

        #[test]
        fn deny_is_never_softened_by_a_later_rung(
            first in arb_verdict(),
            later in proptest::collection::vec(arb_verdict(), 0..6),
        ) {
            let start_denied = matches!(first, Verdict::Deny(_));
            let v = fold(std::iter::once(first).chain(later));
            if start_denied {
                prop_assert!(matches!(v, Verdict::Deny(_)));
            }
        }

        #[test]
        fn fold_never_less_restrictive_than_any_input(vs in proptest::collection::vec(arb_verdict(), 1..8)) {
            let max = vs.iter().map(Verdict::restrictiveness).max().unwrap();
            prop_assert_eq!(fold(vs).restrictiveness(), max);
        }
    }
}
