//! Misuse is an error that names the problem and leaves the session as it was.

use fak_kernel::kv::{KvError, SpanId, SpanKind};

use crate::common::{assert_exact, cpu_store, meta, state, tokens, tool_result};

#[test]
fn unknown_and_already_excised_spans_are_refused() {
    let store = cpu_store(8);
    let mut s = store.session();
    let id = s.append(&tokens(1, 20), tool_result()).unwrap();
    s.append(&tokens(2, 5), meta(SpanKind::User)).unwrap();
    assert!(matches!(
        s.excise(SpanId(99)),
        Err(KvError::UnknownSpan(SpanId(99)))
    ));
    s.excise(id).unwrap();
    assert!(matches!(s.excise(id), Err(KvError::UnknownSpan(_))));
    assert_exact(&s);
}

#[test]
fn overlapping_tags_are_refused() {
    let store = cpu_store(8);
    let mut s = store.session();
    s.append_untagged(&tokens(1, 30)).unwrap();
    let result = s.tag(10..20, tool_result()).unwrap();
    let err = s.tag(15..25, meta(SpanKind::User)).unwrap_err();
    assert!(
        matches!(err, KvError::OverlappingSpans { existing, .. } if existing == result),
        "{err}"
    );
    assert!(matches!(
        s.tag(25..31, meta(SpanKind::User)),
        Err(KvError::BadSpanRange { .. })
    ));
    assert_eq!(s.spans().spans().len(), 1);
    // The tagged range is excised like an appended span.
    s.excise(result).unwrap();
    assert_eq!(s.len(), 20);
    assert_exact(&s);
}

#[test]
fn a_session_another_holder_is_reading_cannot_be_changed() {
    let store = cpu_store(8);
    let mut s = store.session();
    let id = s.append(&tokens(1, 40), tool_result()).unwrap();
    let before = state(&s);
    let lease = s.lease();
    assert!(matches!(s.excise(id), Err(KvError::InUse { readers: 1 })));
    assert!(matches!(
        s.append_untagged(&[5]),
        Err(KvError::InUse { .. })
    ));
    assert_eq!(state(&s), before);
    assert_eq!(lease.tokens(), s.tokens());
    assert_eq!(lease.kv_rows(0).unwrap(), s.kv_rows(0).unwrap());
    drop(lease);
    s.excise(id).unwrap();
    assert!(s.is_empty());
}

#[test]
fn bad_tokens_and_context_overruns_are_refused_without_a_trace() {
    let store = cpu_store(32);
    let mut s = store.session();
    s.append_untagged(&tokens(1, 10)).unwrap();
    let before = (state(&s), store.stats());
    assert!(matches!(s.append_untagged(&[]), Err(KvError::EmptyAppend)));
    assert!(matches!(
        s.append_untagged(&[1, 576]),
        Err(KvError::TokenOutOfRange {
            id: 576,
            vocab: 576
        })
    ));
    assert!(matches!(
        s.append_untagged(&tokens(2, 503)),
        Err(KvError::ContextExceeded {
            requested: 513,
            context: 512
        })
    ));
    assert_eq!((state(&s), store.stats()), before);
}

#[test]
fn an_exhausted_pool_refuses_the_append_and_loses_nothing() {
    let store = cpu_store(3);
    {
        let mut s = store.session();
        s.append_untagged(&tokens(1, 50)).unwrap();
        let before = state(&s);
        let held = s.fork();
        // 50 + 60 positions need four blocks; the pool has three.
        let err = s.append_untagged(&tokens(2, 60)).unwrap_err();
        assert!(
            matches!(err, KvError::OutOfBlocks { capacity: 3, .. }),
            "{err}"
        );
        assert_eq!(state(&s), before);
        assert_eq!(s.len(), 50);
        drop(held);
        assert_exact(&s);
    }
    // An excision whose recompute does not fit beside the kept state is undone too: the
    // session fills the pool, and the rebuilt suffix would need blocks of its own.
    let mut s = store.session();
    let a = s.append(&tokens(3, 40), tool_result()).unwrap();
    s.append(&tokens(4, 50), meta(SpanKind::User)).unwrap();
    let before = state(&s);
    let err = s.excise(a).unwrap_err();
    assert!(matches!(err, KvError::OutOfBlocks { .. }), "{err}");
    assert_eq!(state(&s), before);
    assert_exact(&s);
}
