//! excise == a cold prefill of the edited tokens; chunking never changes a bit.

use fak_kernel::kv::{KvStore, SpanKind};
use proptest::prelude::*;

use crate::common::{assert_exact, cpu_store, meta, state, tokens, tool_result};

/// A session made of spans of the given lengths (every third one a tool result).
fn session_of(
    store: &KvStore<fak_backends::CpuBackend>,
    lengths: &[usize],
    seed: u32,
) -> (
    fak_kernel::kv::Session<fak_backends::CpuBackend>,
    Vec<fak_kernel::kv::SpanId>,
) {
    let mut s = store.session();
    let ids = lengths
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let m = if i % 3 == 2 {
                tool_result()
            } else {
                meta(SpanKind::User)
            };
            s.append(&tokens(seed + i as u32, n), m).unwrap()
        })
        .collect();
    (s, ids)
}

#[test]
fn excising_at_the_start_the_end_and_across_block_boundaries_is_exact() {
    // Spans: 0..20, 20..50 (crosses 32), 50..100 (crosses 64 and 96), 100..110 (the end).
    let lengths = [20, 30, 50, 10];
    for cut in 0..lengths.len() {
        let store = cpu_store(64);
        let (mut s, ids) = session_of(&store, &lengths, 7);
        let before = s.tokens().to_vec();
        let stats = s.excise(ids[cut]).unwrap();
        let start: usize = lengths[..cut].iter().sum();
        let end = start + lengths[cut];
        let mut expected = before[..start].to_vec();
        expected.extend_from_slice(&before[end..]);
        assert_eq!(s.tokens(), expected, "cut {cut}");
        // The suffix is computed; a cut at the end recomputes only the new last position.
        let suffix = (before.len() - end).max(1);
        assert_eq!(stats.computed, suffix, "cut {cut}");
        assert_eq!(stats.computed + stats.reused, s.len());
        assert!(s.spans().get(ids[cut]).is_none());
        assert_exact(&s);
    }
}

#[test]
fn two_excisions_in_a_row_are_exact_and_later_spans_move_back() {
    let store = cpu_store(64);
    let (mut s, ids) = session_of(&store, &[40, 25, 33, 12], 11);
    s.excise(ids[1]).unwrap();
    assert_eq!(s.spans().get(ids[2]).unwrap().range, 40..73);
    s.excise(ids[2]).unwrap();
    assert_eq!(s.spans().get(ids[3]).unwrap().range, 40..52);
    assert_exact(&s);
}

#[test]
fn excising_the_only_span_leaves_an_empty_session_that_grows_again() {
    let store = cpu_store(8);
    let mut s = store.session();
    let id = s.append(&tokens(3, 40), tool_result()).unwrap();
    s.excise(id).unwrap();
    assert!(s.is_empty());
    assert!(s.logits().is_none());
    s.append(&tokens(4, 5), meta(SpanKind::User)).unwrap();
    assert_exact(&s);
}

#[test]
fn the_cold_rebuild_costs_the_whole_context_and_the_excision_only_the_suffix() {
    let store = cpu_store(64);
    let (mut s, ids) = session_of(&store, &[200, 40, 60], 5);
    let stats = s.excise(ids[1]).unwrap();
    assert_eq!(stats.computed, 60);
    assert_eq!(stats.reused, 200);
    let report = s.verify().unwrap();
    assert_eq!(report.last_edit, stats);
    assert!(report.exact());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn excise_equals_a_cold_prefill_of_the_edited_tokens(
        lengths in prop::collection::vec(1usize..45, 1..6),
        pick in any::<prop::sample::Index>(),
        seed in 0u32..1000,
    ) {
        let store = cpu_store(64);
        let (mut s, ids) = session_of(&store, &lengths, seed);
        s.excise(ids[pick.index(ids.len())]).unwrap();
        let report = s.verify().unwrap();
        prop_assert!(report.exact(), "{report:?}");
    }

    #[test]
    fn chunked_prefill_one_shot_and_token_by_token_give_the_same_bits(
        n in 1usize..120,
        cuts in prop::collection::vec(1usize..40, 0..6),
        seed in 0u32..1000,
    ) {
        let ids = tokens(seed, n);
        // Separate stores: a shared one would adopt the first session's blocks.
        let one_shot = {
            let store = cpu_store(8);
            let mut s = store.session();
            s.append_untagged(&ids).unwrap();
            state(&s)
        };
        let chunked = {
            let store = cpu_store(8);
            let mut s = store.session();
            let mut at = 0;
            for c in &cuts {
                let end = (at + c).min(n);
                if end > at {
                    s.append_untagged(&ids[at..end]).unwrap();
                }
                at = end;
            }
            if at < n {
                s.append_untagged(&ids[at..]).unwrap();
            }
            state(&s)
        };
        let decoded = {
            let store = cpu_store(8);
            let mut s = store.session();
            for t in &ids {
                s.append_untagged(&[*t]).unwrap();
            }
            state(&s)
        };
        prop_assert!(one_shot == chunked, "chunked prefill differs");
        prop_assert!(one_shot == decoded, "token-by-token decode differs");
    }
}
