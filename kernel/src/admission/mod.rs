//! Admission, the context-MMU: every tool result is screened before a model may read it.
//!
//! A result is refused entry (quarantined) when it is too large or a flood (OVERSIZE),
//! holds a credential (SECRET_EXFIL) or carries an instruction aimed at the model
//! (TRUST_VIOLATION). A quarantined result is replaced by a stub built only from an id, the
//! code and the length: no byte of the original reaches the model. A benign result larger
//! than the page-out threshold is stored by its sha256 and replaced by a pointer.
//!
//! Detection is the evadable part (see `injection`). What holds when detection misses is
//! the policy and the containment: results from untrusted sources taint their trace
//! whatever the detector says, and a tainted trace cannot reach a sink.

pub mod flood;
pub mod injection;
pub mod normalize;
pub mod page_store;
pub mod secrets;

use serde::{Deserialize, Serialize};

use crate::canonical::canonical_json;
use crate::refusal::{Refusal, RefusalCode};

/// Characters of a paged-out result shown beside its pointer.
pub const PAGE_PREVIEW_CHARS: usize = 256;

/// Whether a result's source is trusted. Untrusted results taint their trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    Trusted,
    Untrusted,
}

/// Size bounds for screening, from the policy's `admission` section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScreenLimits {
    pub max_result_bytes: usize,
    pub page_out_bytes: usize,
}

/// What the detectors concluded about one result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "admission", rename_all = "snake_case")]
pub enum ScreenVerdict {
    Admit,
    PageOut,
    Quarantine { refusal: Refusal },
}

/// The detectors' findings; contains no byte of the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Screening {
    #[serde(flatten)]
    pub verdict: ScreenVerdict,
    pub bytes: usize,
    pub injection_score: u32,
    pub signals: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'static str>,
}

/// Runs the detectors over `text`. `page_out` says whether an oversized benign result is
/// paged out (a page-in does not page out again).
pub fn screen(text: &str, limits: ScreenLimits, page_out: bool) -> Screening {
    let bytes = text.len();
    let quarantine = |code: RefusalCode, item: String| ScreenVerdict::Quarantine {
        refusal: Refusal::new(code, item),
    };
    let mut out = Screening {
        verdict: ScreenVerdict::Admit,
        bytes,
        injection_score: 0,
        signals: Vec::new(),
        secret: None,
    };
    if bytes > limits.max_result_bytes {
        out.verdict = quarantine(
            RefusalCode::Oversize,
            format!(
                "result is {bytes} bytes, bound {} bytes",
                limits.max_result_bytes
            ),
        );
        return out;
    }
    if let Some(why) = flood::flood(text.as_bytes()) {
        out.verdict = quarantine(RefusalCode::Oversize, why);
        return out;
    }
    let views = normalize::views(text);
    out.secret = views.cased.iter().find_map(|t| secrets::find_secret(t));
    let assessment = injection::assess(&views);
    out.injection_score = assessment.score;
    out.signals = assessment.signals.clone();
    out.verdict = if let Some(kind) = out.secret {
        quarantine(
            RefusalCode::SecretExfil,
            format!("result holds a secret ({kind})"),
        )
    } else if assessment.is_injection() {
        quarantine(
            RefusalCode::TrustViolation,
            format!(
                "result carries instructions aimed at the model (score {})",
                assessment.score
            ),
        )
    } else if page_out && bytes > limits.page_out_bytes {
        ScreenVerdict::PageOut
    } else {
        ScreenVerdict::Admit
    };
    out
}

/// What the model reads in place of (or as) a result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelView {
    /// The result itself.
    Text { text: String },
    /// A pointer to a paged-out result.
    Page {
        sha256: String,
        bytes: usize,
        preview: String,
    },
    /// A stub: id, code and length only.
    Quarantined {
        id: String,
        code: RefusalCode,
        bytes: usize,
    },
}

impl ModelView {
    /// The text handed to the model.
    pub fn to_model_text(&self) -> String {
        match self {
            ModelView::Text { text } => text.clone(),
            ModelView::Page {
                sha256,
                bytes,
                preview,
            } => canonical_json(&serde_json::json!({
                "fak_page": format!("sha256:{sha256}"),
                "bytes": bytes,
                "preview": preview,
                "note": "result paged out; ask the operator to page it in",
            })),
            ModelView::Quarantined { id, code, bytes } => canonical_json(&serde_json::json!({
                "fak_quarantined": id,
                "code": code.name(),
                "bytes": bytes,
            })),
        }
    }
}

/// A screened result as the kernel hands it on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Admission {
    pub tool: String,
    pub trust: Trust,
    pub screening: Screening,
    pub view: ModelView,
}

impl Admission {
    pub fn is_quarantined(&self) -> bool {
        matches!(self.view, ModelView::Quarantined { .. })
    }
}

/// The first `PAGE_PREVIEW_CHARS` characters of `text`.
pub fn preview(text: &str) -> String {
    match text.char_indices().nth(PAGE_PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ScreenLimits = ScreenLimits {
        max_result_bytes: 1 << 20,
        page_out_bytes: 1024,
    };

    #[test]
    fn quarantine_stub_is_built_from_id_code_and_length_only() {
        let a = ModelView::Quarantined {
            id: "q1".into(),
            code: RefusalCode::TrustViolation,
            bytes: 40,
        };
        assert_eq!(
            a.to_model_text(),
            r#"{"bytes":40,"code":"TRUST_VIOLATION","fak_quarantined":"q1"}"#
        );
    }

    #[test]
    fn secret_wins_over_page_out() {
        let text = format!("{} AKIAIOSFODNN7EXAMPLE", "x y ".repeat(600));
        let s = screen(&text, LIMITS, true);
        assert!(
            matches!(s.verdict, ScreenVerdict::Quarantine { ref refusal } if refusal.code == RefusalCode::SecretExfil)
        );
        assert_eq!(s.secret, Some("aws_access_key_id"));
    }

    #[test]
    fn large_benign_result_pages_out_unless_paging_in() {
        let text: String = (0..300).map(|i| format!("row {i}: ok\n")).collect();
        assert_eq!(screen(&text, LIMITS, true).verdict, ScreenVerdict::PageOut);
        assert_eq!(screen(&text, LIMITS, false).verdict, ScreenVerdict::Admit);
    }

    #[test]
    fn result_over_the_bound_is_oversize() {
        let limits = ScreenLimits {
            max_result_bytes: 10,
            page_out_bytes: 5,
        };
        let s = screen("0123456789a", limits, true);
        assert!(
            matches!(s.verdict, ScreenVerdict::Quarantine { ref refusal } if refusal.code == RefusalCode::Oversize)
        );
    }
}
