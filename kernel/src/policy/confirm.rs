//! Confirmation of irreversible calls: hold, issue a token, pass when re-sent with it.
//!
//! A token is 128 random bits, bound to the tool and the sha256 of the canonical
//! arguments, valid until its expiry and usable once. A token for other arguments, an
//! expired one or a reused one is refused as UNWITNESSED.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::canonical::sha256_hex;
use crate::refusal::{Refusal, RefusalCode};
use crate::verdict::Hold;

/// Longest preview shown to the confirming human, in characters.
const PREVIEW_CHARS: usize = 512;

#[derive(Clone, Debug)]
struct Pending {
    tool: String,
    args_sha256: String,
    expires_at_ms: u64,
}

/// What the confirm rung concluded.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfirmCheck {
    /// The token matched and is now spent.
    Confirmed,
    /// No token: the call is held with this new one.
    Held(Hold),
    Refused(Refusal),
}

/// Tokens issued and not yet used or expired.
#[derive(Debug, Default)]
pub struct ConfirmBook {
    pending: Mutex<HashMap<String, Pending>>,
}

impl ConfirmBook {
    pub fn check(
        &self,
        tool: &str,
        canonical_args: &str,
        token: Option<&str>,
        now_ms: u64,
        ttl_ms: u64,
    ) -> ConfirmCheck {
        let unwitnessed =
            |why: &str| ConfirmCheck::Refused(Refusal::new(RefusalCode::Unwitnessed, why));
        let Ok(mut pending) = self.pending.lock() else {
            return unwitnessed("confirm book unavailable");
        };
        pending.retain(|_, p| p.expires_at_ms > now_ms);
        let args_sha256 = sha256_hex(canonical_args.as_bytes());
        match token {
            Some(token) => match pending.get(token) {
                Some(p) if p.tool == tool && p.args_sha256 == args_sha256 => {
                    pending.remove(token);
                    ConfirmCheck::Confirmed
                }
                Some(_) => unwitnessed("confirm token was issued for a different call"),
                None => unwitnessed("confirm token is unknown, expired or already used"),
            },
            None => {
                let mut bytes = [0u8; 16];
                if getrandom::fill(&mut bytes).is_err() {
                    return unwitnessed("no randomness for a confirm token");
                }
                let token = hex::encode(bytes);
                let expires_at_ms = now_ms.saturating_add(ttl_ms);
                pending.insert(
                    token.clone(),
                    Pending {
                        tool: tool.to_string(),
                        args_sha256,
                        expires_at_ms,
                    },
                );
                let mut preview = format!("{tool} {canonical_args}");
                if let Some((cut, _)) = preview.char_indices().nth(PREVIEW_CHARS) {
                    preview.truncate(cut);
                    preview.push('…');
                }
                ConfirmCheck::Held(Hold {
                    token,
                    preview,
                    expires_at_ms,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(check: ConfirmCheck) -> Hold {
        match check {
            ConfirmCheck::Held(h) => h,
            other => panic!("expected a hold, got {other:?}"),
        }
    }

    #[test]
    fn token_passes_once_for_the_same_call() {
        let book = ConfirmBook::default();
        let hold = held(book.check("pay", r#"{"amount":5}"#, None, 0, 1000));
        assert_eq!(hold.token.len(), 32);
        assert!(hold.preview.starts_with("pay {\"amount\":5}"));
        assert_eq!(
            book.check("pay", r#"{"amount":5}"#, Some(&hold.token), 10, 1000),
            ConfirmCheck::Confirmed
        );
        assert!(matches!(
            book.check("pay", r#"{"amount":5}"#, Some(&hold.token), 20, 1000),
            ConfirmCheck::Refused(r) if r.code == RefusalCode::Unwitnessed
        ));
    }

    #[test]
    fn token_is_bound_to_tool_and_arguments() {
        let book = ConfirmBook::default();
        let hold = held(book.check("pay", r#"{"amount":5}"#, None, 0, 1000));
        assert!(matches!(
            book.check("pay", r#"{"amount":500}"#, Some(&hold.token), 1, 1000),
            ConfirmCheck::Refused(_)
        ));
        assert!(matches!(
            book.check("refund", r#"{"amount":5}"#, Some(&hold.token), 1, 1000),
            ConfirmCheck::Refused(_)
        ));
    }

    #[test]
    fn expired_token_is_refused() {
        let book = ConfirmBook::default();
        let hold = held(book.check("pay", "{}", None, 0, 1000));
        assert!(matches!(
            book.check("pay", "{}", Some(&hold.token), 1000, 1000),
            ConfirmCheck::Refused(_)
        ));
    }
}
