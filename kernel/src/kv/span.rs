//! The span table: which tokens of a session came from where, and how far they are trusted.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::KvError;

/// A span's name within its session. Ids are never reused, so a stale id cannot name
/// another span after an excision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SpanId(pub u32);

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What part of a conversation a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    System,
    ToolSchema,
    User,
    Assistant,
    ToolResult,
}

impl SpanKind {
    /// The name dumps and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::ToolSchema => "tool_schema",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::ToolResult => "tool_result",
        }
    }
}

/// How far the kernel trusts a span's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanTrust {
    Trusted,
    Untrusted,
    /// A verdict arrived against it; it is to be excised.
    Quarantined,
}

impl SpanTrust {
    /// The name dumps and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::Untrusted => "untrusted",
            Self::Quarantined => "quarantined",
        }
    }
}

/// What the caller says about a span when it is appended or tagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanMeta {
    pub kind: SpanKind,
    /// The tool (or other origin) its tokens came from.
    pub source: Option<String>,
    pub trust: SpanTrust,
}

impl SpanMeta {
    pub fn new(kind: SpanKind, trust: SpanTrust) -> Self {
        Self {
            kind,
            source: None,
            trust,
        }
    }

    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }
}

/// One entry of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub id: SpanId,
    /// Token positions, in the session as it is now.
    pub range: Range<usize>,
    #[serde(flatten)]
    pub meta: SpanMeta,
    /// SHA-256 of the span's token ids (u32 little-endian), hex.
    pub content_hash: String,
}

/// The spans of one session: disjoint token ranges, sorted by position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanTable {
    spans: Vec<Span>,
    next_id: u32,
}

impl SpanTable {
    /// Every span, by position.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    pub fn get(&self, id: SpanId) -> Option<&Span> {
        self.spans.iter().find(|s| s.id == id)
    }

    /// Adds a span over `range` of `tokens` (the session's tokens). Empty, out-of-range and
    /// overlapping ranges are refused.
    pub fn insert(
        &mut self,
        range: Range<usize>,
        meta: SpanMeta,
        tokens: &[u32],
    ) -> Result<SpanId, KvError> {
        if range.is_empty() || range.end > tokens.len() {
            return Err(KvError::BadSpanRange {
                range,
                len: tokens.len(),
            });
        }
        if let Some(s) = self
            .spans
            .iter()
            .find(|s| s.range.start < range.end && range.start < s.range.end)
        {
            return Err(KvError::OverlappingSpans {
                range,
                existing: s.id,
                existing_range: s.range.clone(),
            });
        }
        let id = SpanId(self.next_id);
        self.next_id += 1;
        let at = self.spans.partition_point(|s| s.range.start < range.start);
        let content_hash = content_hash(&tokens[range.clone()]);
        self.spans.insert(
            at,
            Span {
                id,
                range,
                meta,
                content_hash,
            },
        );
        Ok(id)
    }

    /// Marks span `id` quarantined; its tokens and content hash stay as they are.
    pub(super) fn quarantine(&mut self, id: SpanId) -> Result<&Span, KvError> {
        let span = self
            .spans
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or(KvError::UnknownSpan(id))?;
        span.meta.trust = SpanTrust::Quarantined;
        Ok(span)
    }

    /// Removes span `id` and moves every later span back by its length, as the tokens
    /// after it move when it is cut out.
    pub(super) fn cut(&mut self, id: SpanId) -> Result<Span, KvError> {
        let at = self
            .spans
            .iter()
            .position(|s| s.id == id)
            .ok_or(KvError::UnknownSpan(id))?;
        let span = self.spans.remove(at);
        let len = span.range.len();
        for later in &mut self.spans[at..] {
            later.range = later.range.start - len..later.range.end - len;
        }
        Ok(span)
    }

    /// Checks a table read from a dump against the session's `tokens`: sorted, disjoint, in
    /// range, ids below `next_id`, and every content hash matching its tokens.
    pub(super) fn check(&self, tokens: &[u32]) -> Result<(), String> {
        let mut end = 0;
        for s in &self.spans {
            if s.range.is_empty() || s.range.start < end || s.range.end > tokens.len() {
                return Err(format!(
                    "span {} at {:?} is out of order or range",
                    s.id, s.range
                ));
            }
            if s.id.0 >= self.next_id {
                return Err(format!("span {} is not below the next id", s.id));
            }
            if s.content_hash != content_hash(&tokens[s.range.clone()]) {
                return Err(format!(
                    "span {}'s content hash does not match its tokens",
                    s.id
                ));
            }
            end = s.range.end;
        }
        Ok(())
    }
}

fn content_hash(tokens: &[u32]) -> String {
    let mut h = Sha256::new();
    for t in tokens {
        h.update(t.to_le_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SpanMeta {
        SpanMeta::new(SpanKind::User, SpanTrust::Trusted)
    }

    #[test]
    fn overlapping_empty_and_out_of_range_spans_are_refused() {
        let tokens = [1, 2, 3, 4, 5, 6];
        let mut t = SpanTable::default();
        let a = t.insert(1..3, meta(), &tokens).unwrap();
        assert!(matches!(
            t.insert(2..4, meta(), &tokens),
            Err(KvError::OverlappingSpans { existing, .. }) if existing == a
        ));
        assert!(matches!(
            t.insert(0..2, meta(), &tokens),
            Err(KvError::OverlappingSpans { .. })
        ));
        assert!(matches!(
            t.insert(3..3, meta(), &tokens),
            Err(KvError::BadSpanRange { .. })
        ));
        assert!(matches!(
            t.insert(4..7, meta(), &tokens),
            Err(KvError::BadSpanRange { .. })
        ));
        t.insert(3..6, meta(), &tokens).unwrap();
        assert_eq!(t.spans().len(), 2);
        assert!(t.check(&tokens).is_ok());
    }

    #[test]
    fn cutting_a_span_moves_the_later_ones_and_retires_its_id() {
        let tokens = [1, 2, 3, 4, 5, 6];
        let mut t = SpanTable::default();
        let a = t.insert(0..2, meta(), &tokens).unwrap();
        let b = t.insert(2..4, meta(), &tokens).unwrap();
        let c = t.insert(4..6, meta(), &tokens).unwrap();
        assert_eq!(t.cut(b).unwrap().range, 2..4);
        assert_eq!(t.get(a).unwrap().range, 0..2);
        assert_eq!(t.get(c).unwrap().range, 2..4);
        assert!(matches!(t.cut(b), Err(KvError::UnknownSpan(id)) if id == b));
        let remaining = [1, 2, 5, 6];
        assert!(t.check(&remaining).is_ok());
        t.cut(a).unwrap();
        t.cut(c).unwrap();
        let fresh = t.insert(0..2, meta(), &[9, 9]).unwrap();
        assert!(![a, b, c].contains(&fresh), "ids are never reused");
    }

    #[test]
    fn quarantining_a_span_changes_its_trust_and_nothing_else() {
        let tokens = [1, 2, 3, 4];
        let mut t = SpanTable::default();
        t.insert(0..2, meta(), &tokens).unwrap();
        let tool = SpanMeta::new(SpanKind::ToolResult, SpanTrust::Untrusted).with_source("fetch");
        let id = t.insert(2..4, tool, &tokens).unwrap();
        let before = t.get(id).unwrap().clone();
        let marked = t.quarantine(id).unwrap().clone();
        assert_eq!(marked.meta.trust, SpanTrust::Quarantined);
        assert_eq!(
            (
                &marked.range,
                &marked.meta.kind,
                &marked.meta.source,
                &marked.content_hash
            ),
            (
                &before.range,
                &before.meta.kind,
                &before.meta.source,
                &before.content_hash
            )
        );
        assert_eq!(t.spans()[0].meta.trust, SpanTrust::Trusted);
        assert!(t.check(&tokens).is_ok());
        assert!(matches!(
            t.quarantine(SpanId(9)),
            Err(KvError::UnknownSpan(SpanId(9)))
        ));
    }

    #[test]
    fn names_match_the_serialized_form() {
        for kind in [
            SpanKind::System,
            SpanKind::ToolSchema,
            SpanKind::User,
            SpanKind::Assistant,
            SpanKind::ToolResult,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for trust in [
            SpanTrust::Trusted,
            SpanTrust::Untrusted,
            SpanTrust::Quarantined,
        ] {
            assert_eq!(serde_json::to_value(trust).unwrap(), trust.as_str());
        }
    }

    #[test]
    fn a_tampered_content_hash_fails_the_check() {
        let tokens = [1, 2, 3];
        let mut t = SpanTable::default();
        t.insert(0..3, meta(), &tokens).unwrap();
        assert!(t.check(&[1, 2, 4]).is_err());
    }
}
