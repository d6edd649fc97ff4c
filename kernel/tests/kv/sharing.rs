//! Shared prefixes: forks hold one copy, appends adopt what the pool holds, eviction is LRU.

use fak_kernel::kv::SpanKind;
use proptest::prelude::*;

use crate::common::{assert_exact, cpu_store, meta, state, tokens};

#[test]
fn two_forks_of_one_prefix_hold_one_copy_and_dropping_one_keeps_the_other() {
    let store = cpu_store(32);
    let mut root = store.session();
    // 100 positions: three full blocks and a partial tail of 4.
    root.append(&tokens(1, 100), meta(SpanKind::System))
        .unwrap();
    assert_eq!(store.stats().referenced, 4);
    let mut a = root.fork();
    let mut b = root.fork();
    assert_eq!(store.stats().referenced, 4, "a fork copies no block");
    assert_eq!(a.blocks(), root.blocks());
    drop(root);
    assert_eq!(store.stats().referenced, 4);

    a.append(&tokens(2, 10), meta(SpanKind::User)).unwrap();
    // a copied the shared tail before writing into it; the full blocks stay shared.
    assert_eq!(store.stats().referenced, 5);
    assert_eq!(a.blocks()[..3], b.blocks()[..3]);
    assert_ne!(a.blocks()[3], b.blocks()[3]);
    b.append(&tokens(3, 10), meta(SpanKind::User)).unwrap();
    assert_exact(&a);
    assert_exact(&b);

    let before = state(&b);
    drop(a);
    assert_eq!(store.stats().referenced, 4, "a's private tail went back");
    assert_eq!(state(&b), before);
    assert_exact(&b);
}

#[test]
fn a_new_session_with_a_known_prefix_adopts_its_full_blocks() {
    let store = cpu_store(32);
    let prefix = tokens(9, 96);
    let mut first = store.session();
    first.append_untagged(&prefix).unwrap();
    let mut second = store.session();
    let mut turn = prefix.clone();
    turn.extend(tokens(10, 20));
    second.append_untagged(&turn).unwrap();
    // Three full blocks adopted; the 20 new positions computed.
    assert_eq!(second.last_edit().reused, 96);
    assert_eq!(second.last_edit().computed, 20);
    assert_eq!(first.blocks()[..3], second.blocks()[..3]);
    assert_exact(&second);

    // The same prefix from a dropped session is still adopted while cached.
    drop(first);
    drop(second);
    let mut third = store.session();
    third.append_untagged(&turn).unwrap();
    assert_eq!(third.last_edit().reused, 96);
    assert_exact(&third);
}

#[test]
fn equal_blocks_computed_twice_end_in_one_copy() {
    let store = cpu_store(32);
    let ids = tokens(4, 64);
    let mut a = store.session();
    a.append_untagged(&ids).unwrap();
    let mut b = store.session();
    // Appending exactly two blocks adopts the first and computes the second (its last
    // token's logits are needed), then finds it already held.
    b.append_untagged(&ids).unwrap();
    assert_eq!(a.blocks(), b.blocks());
    assert_eq!(store.stats().referenced, 2);
}

#[test]
fn unreferenced_blocks_are_evicted_least_recently_used_first() {
    let store = cpu_store(4);
    let old = tokens(20, 64);
    let recent = tokens(21, 64);
    for ids in [&old, &recent] {
        let mut s = store.session();
        s.append_untagged(ids).unwrap();
    }
    assert_eq!(store.stats().cached, 4);
    // Two new blocks: the old sequence's blocks go first.
    let mut s = store.session();
    s.append_untagged(&tokens(22, 64)).unwrap();
    drop(s);
    let mut again = store.session();
    let mut turn = recent.clone();
    turn.push(5);
    again.append_untagged(&turn).unwrap();
    assert_eq!(again.last_edit().reused, 64, "the recent blocks survived");
    let mut gone = store.session();
    drop(again);
    let mut turn = old.clone();
    turn.push(5);
    gone.append_untagged(&turn).unwrap();
    assert_eq!(gone.last_edit().reused, 0, "the old blocks were evicted");
    assert_exact(&gone);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn fork_then_append_equals_a_cold_run(
        prefix in 1usize..100,
        turns in prop::collection::vec(1usize..40, 1..4),
        seed in 0u32..1000,
    ) {
        let store = cpu_store(64);
        let mut root = store.session();
        root.append_untagged(&tokens(seed, prefix)).unwrap();
        let mut forks: Vec<_> = (0..2).map(|_| root.fork()).collect();
        for (i, n) in turns.iter().enumerate() {
            for (j, f) in forks.iter_mut().enumerate() {
                f.append_untagged(&tokens(seed + 100 * (i as u32 + 1) + j as u32, *n)).unwrap();
            }
        }
        for f in &forks {
            let report = f.verify().unwrap();
            prop_assert!(report.exact(), "{report:?}");
        }
        prop_assert!(root.verify().unwrap().exact());
    }
}
