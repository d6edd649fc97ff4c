//! Secret detection: credentials that must never enter a model's context or leave by an
//! egress sink.
//!
//! Each pattern is the documented shape of a real credential format; the kind names the
//! format, never the matched bytes. Patterns are deliberately shape-specific (a prefix and
//! a fixed alphabet and length) so ordinary text does not match.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

/// (kind, pattern). The kind is what a quarantine stub and a refusal report.
const PATTERNS: [(&str, &str); 12] = [
    (
        "aws_access_key_id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[0-9A-Z]{16}\b",
    ),
    (
        "aws_secret_access_key",
        r"(?i)aws_?secret_?access_?key\W{0,5}[A-Za-z0-9/+=]{40}",
    ),
    (
        "private_key",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
    ),
    (
        "github_token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b",
    ),
    ("github_pat", r"\bgithub_pat_[A-Za-z0-9_]{60,}\b"),
    ("slack_token", r"\bxox[abposr]-[0-9]{6,}-[A-Za-z0-9-]{8,}"),
    (
        "slack_webhook",
        r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}",
    ),
    (
        "openai_key",
        r"\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{48})\b",
    ),
    (
        "anthropic_key",
        r"\bsk-ant-[a-z]{3,8}[0-9]{2}-[A-Za-z0-9_-]{80,}",
    ),
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
    ),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("stripe_live_key", r"\b(?:sk|rk)_live_[0-9A-Za-z]{24,}\b"),
];

static SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(PATTERNS.iter().map(|(_, p)| p)).expect("secret patterns compile")
});

static PREFILTER: LazyLock<Regex> = LazyLock::new(|| {
    // Every pattern contains one of these literals; text without any skips the set.
    Regex::new(r"(?i)AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|aws_?secret|PRIVATE KEY|gh[pousr]_|github_pat_|xox[abposr]-|hooks\.slack|sk-|eyJ|AIza|_live_")
        .expect("secret prefilter compiles")
});

/// The kind of the first credential found in `text`, if any.
pub fn find_secret(text: &str) -> Option<&'static str> {
    if !PREFILTER.is_match(text) {
        return None;
    }
    SET.matches(text).iter().next().map(|i| PATTERNS[i].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_on_its_own() {
        for (kind, p) in PATTERNS {
            assert!(Regex::new(p).is_ok(), "{kind}");
        }
    }

    #[test]
    fn ordinary_text_has_no_secret() {
        for text in [
            "the sk-learn docs describe ask-me-anything sessions",
            "AKIA is a prefix, AKIA123 is too short",
            "eyJ alone is not a token",
            "-----BEGIN PUBLIC KEY-----",
        ] {
            assert_eq!(find_secret(text), None, "{text}");
        }
    }
}
