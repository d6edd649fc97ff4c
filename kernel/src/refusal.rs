//! The closed refusal vocabulary: every "no" the kernel says is one of these codes.
//!
//! A refusal reaches the model as a value: the code, its stable number, what to do about it
//! (the disposition) and the offending item (an argument, a bound, a tool name). It never
//! carries policy text, so a model cannot read the rules it is being held to and probe
//! their edges.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a caller (or the model) should do after a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Fix the call and send it again.
    Retry,
    /// Send the same call again later (a retry-after hint is attached).
    Wait,
    /// A human or the operator has to decide; the model cannot fix this itself.
    Escalate,
    /// Do not try again: no variant of this call will pass.
    Terminal,
}

/// The refusal codes. The numbers are stable: they are part of the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefusalCode {
    /// No rule allows the tool (default deny), or the fold of rungs was empty.
    DefaultDeny = 1,
    /// A policy rule blocks the call: a `deny` entry, an argument outside its globs, a
    /// `deny_regex` match or a `..` escape.
    PolicyBlock = 2,
    /// The call would write the policy file, the audit journal or the kernel's own config.
    SelfModify = 3,
    /// Untrusted content is involved: a tainted trace calling a sink, or an injection
    /// found in a tool result.
    TrustViolation = 4,
    /// The arguments could not be repaired into a valid call (bad JSON, missing or
    /// uncoercible arguments).
    Malformed = 5,
    /// The arguments name parameters this tool does not have: the call is aimed at a
    /// different tool.
    Misroute = 6,
    /// A rate limit is exhausted; the refusal carries a retry-after hint.
    RateLimited = 7,
    /// A secret (cloud key, private key, token) was found in a result or in arguments
    /// bound for an egress sink.
    SecretExfil = 8,
    /// An action needed a witness it did not get: a valid confirm token, a page-in
    /// clearance, or a durable audit record.
    Unwitnessed = 9,
    /// An argument exceeds its `max_bytes`, or a result is too large or a flood.
    Oversize = 10,
    /// The tool registry does not know the tool.
    UnknownTool = 11,
    /// An egress sink was pointed at a host outside the policy's `egress_hosts`.
    EgressBlock = 12,
    /// The kernel failed internally; it denies rather than guess.
    Internal = 13,
}

impl RefusalCode {
    /// Every code, in numeric order.
    pub const ALL: [RefusalCode; 13] = [
        RefusalCode::DefaultDeny,
        RefusalCode::PolicyBlock,
        RefusalCode::SelfModify,
        RefusalCode::TrustViolation,
        RefusalCode::Malformed,
        RefusalCode::Misroute,
        RefusalCode::RateLimited,
        RefusalCode::SecretExfil,
        RefusalCode::Unwitnessed,
        RefusalCode::Oversize,
        RefusalCode::UnknownTool,
        RefusalCode::EgressBlock,
        RefusalCode::Internal,
    ];

    /// The stable wire number.
    pub fn number(self) -> u16 {
        self as u16
    }

    /// The wire name, e.g. `POLICY_BLOCK`.
    pub fn name(self) -> &'static str {
        match self {
            RefusalCode::DefaultDeny => "DEFAULT_DENY",
            RefusalCode::PolicyBlock => "POLICY_BLOCK",
            RefusalCode::SelfModify => "SELF_MODIFY",
            RefusalCode::TrustViolation => "TRUST_VIOLATION",
            RefusalCode::Malformed => "MALFORMED",
            RefusalCode::Misroute => "MISROUTE",
            RefusalCode::RateLimited => "RATE_LIMITED",
            RefusalCode::SecretExfil => "SECRET_EXFIL",
            RefusalCode::Unwitnessed => "UNWITNESSED",
            RefusalCode::Oversize => "OVERSIZE",
            RefusalCode::UnknownTool => "UNKNOWN_TOOL",
            RefusalCode::EgressBlock => "EGRESS_BLOCK",
            RefusalCode::Internal => "INTERNAL",
        }
    }

    /// Looks a code up by its wire name (as written in a policy's `deny` map).
    pub fn from_name(name: &str) -> Option<RefusalCode> {
        RefusalCode::ALL.into_iter().find(|c| c.name() == name)
    }

    /// What to do after this refusal.
    pub fn disposition(self) -> Disposition {
        match self {
            RefusalCode::Malformed
            | RefusalCode::Misroute
            | RefusalCode::Oversize
            | RefusalCode::UnknownTool => Disposition::Retry,
            RefusalCode::RateLimited => Disposition::Wait,
            RefusalCode::TrustViolation
            | RefusalCode::SecretExfil
            | RefusalCode::Unwitnessed
            | RefusalCode::Internal => Disposition::Escalate,
            RefusalCode::DefaultDeny
            | RefusalCode::PolicyBlock
            | RefusalCode::SelfModify
            | RefusalCode::EgressBlock => Disposition::Terminal,
        }
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refusal as the model sees it: the code and the offending item, nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Refusal {
    pub code: RefusalCode,
    /// The offending item in a few words: `argument "path"`, `tool "shell.exec"`,
    /// `argument "body" is 9000 bytes, bound 4096 bytes`.
    pub item: String,
    /// For `RATE_LIMITED`: milliseconds until the call may pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl Refusal {
    pub fn new(code: RefusalCode, item: impl Into<String>) -> Refusal {
        Refusal {
            code,
            item: item.into(),
            retry_after_ms: None,
        }
    }

    pub fn rate_limited(item: impl Into<String>, retry_after_ms: u64) -> Refusal {
        Refusal {
            code: RefusalCode::RateLimited,
            item: item.into(),
            retry_after_ms: Some(retry_after_ms),
        }
    }

    /// The value handed to the model in place of a result.
    pub fn to_model_value(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "refused": self.code.name(),
            "code": self.code.number(),
            "disposition": self.code.disposition(),
            "item": self.item,
        });
        if let Some(ms) = self.retry_after_ms {
            v["retry_after_ms"] = ms.into();
        }
        v
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({}): {}",
            self.code.name(),
            self.code.number(),
            self.item
        )?;
        if let Some(ms) = self.retry_after_ms {
            write!(f, " (retry after {ms} ms)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_numbered_one_to_thirteen_in_order() {
        for (i, code) in RefusalCode::ALL.iter().enumerate() {
            assert_eq!(code.number() as usize, i + 1, "{code}");
        }
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for code in RefusalCode::ALL {
            assert_eq!(RefusalCode::from_name(code.name()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.name()));
        }
        assert_eq!(RefusalCode::from_name("NOT_A_CODE"), None);
    }

    #[test]
    fn rate_limited_model_value_carries_retry_hint() {
        let r = Refusal::rate_limited("tool \"web.fetch\" per_tool limit", 1500);
        let v = r.to_model_value();
        assert_eq!(v["refused"], "RATE_LIMITED");
        assert_eq!(v["code"], 7);
        assert_eq!(v["disposition"], "wait");
        assert_eq!(v["retry_after_ms"], 1500);
    }
}
