//! dump, load, continue == the uninterrupted session; bad dumps are refused and change
//! nothing.

use std::sync::Arc;

use fak_backends::CpuBackend;
use fak_kernel::kv::{KvError, KvStore, SpanKind};

use crate::common::{assert_exact, cpu_store, meta, model_on, state, tokens, tool_result};

#[test]
fn dump_load_and_continue_equals_the_uninterrupted_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.fakkv");
    let store = cpu_store(32);
    let mut live = store.session();
    live.append(&tokens(1, 45), meta(SpanKind::System)).unwrap();
    let tool = live.append(&tokens(2, 30), tool_result()).unwrap();
    live.append(&tokens(3, 12), meta(SpanKind::User)).unwrap();
    live.dump(&path).unwrap();

    // Into a fresh store of the same model: every block is written, nothing computed.
    let other = cpu_store(32);
    let mut loaded = other.load(&path).unwrap();
    assert_eq!(loaded.last_edit().computed, 0);
    assert_eq!(loaded.tokens(), live.tokens());
    assert_eq!(loaded.spans(), live.spans());
    assert_eq!(state(&loaded), state(&live));

    for s in [&mut live, &mut loaded] {
        s.append(&tokens(4, 20), meta(SpanKind::Assistant)).unwrap();
        s.excise(tool).unwrap();
    }
    assert_eq!(state(&loaded), state(&live));
    assert_exact(&loaded);

    // Into the store that made it: the full blocks are adopted, not written again.
    let free = store.stats().free;
    let again = store.load(&path).unwrap();
    assert_eq!(
        store.stats().free,
        free - 1,
        "only the partial tail takes a new block"
    );
    assert_exact(&again);
}

#[test]
fn an_empty_session_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.fakkv");
    let store = cpu_store(4);
    store.session().dump(&path).unwrap();
    let loaded = store.load(&path).unwrap();
    assert!(loaded.is_empty());
    assert!(loaded.logits().is_none());
}

/// Writes a dump of a small session and returns its bytes.
fn dump_bytes(store: &KvStore<CpuBackend>, path: &std::path::Path) -> Vec<u8> {
    let mut s = store.session();
    s.append(&tokens(5, 40), meta(SpanKind::User)).unwrap();
    s.dump(path).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn a_dump_of_another_model_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llama3.fakkv");
    dump_bytes(&cpu_store(8), &path);
    let qwen = KvStore::new(model_on(Arc::new(CpuBackend::new()), "qwen3"), 8).unwrap();
    let stats = qwen.stats();
    let err = qwen.load(&path).unwrap_err();
    assert!(matches!(err, KvError::DumpWrongModel { .. }), "{err}");
    assert_eq!(qwen.stats(), stats);
}

#[test]
fn corrupt_truncated_and_future_dumps_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.fakkv");
    let store = cpu_store(8);
    let good = dump_bytes(&store, &path);
    let stats = store.stats();
    let bad = dir.path().join("bad.fakkv");
    let refuse = |bytes: &[u8]| {
        std::fs::write(&bad, bytes).unwrap();
        let err = store.load(&bad).unwrap_err();
        assert_eq!(
            store.stats(),
            stats,
            "a refused load touched the pool: {err}"
        );
        err
    };

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    assert!(matches!(refuse(&flipped), KvError::DumpCorrupt { .. }));
    assert!(matches!(
        refuse(&good[..good.len() - 1]),
        KvError::DumpCorrupt { .. }
    ));
    assert!(matches!(refuse(b"not a dump"), KvError::DumpCorrupt { .. }));

    let mut future = good.clone();
    future[8] = 2;
    let err = refuse(&future);
    assert!(
        matches!(
            err,
            KvError::DumpVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );

    assert!(matches!(
        store.load(&dir.path().join("missing.fakkv")),
        Err(KvError::DumpIo { .. })
    ));
}
