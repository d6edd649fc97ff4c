//! The compat geometry reproduces the published turn-tax totals exactly, and its
//! formulas hold task by task.

mod common;

use fak_harness::webbench::compat::{self, Shape};
use fak_harness::webbench::policy::Policy;
use fak_harness::webbench::tasks::{Task, load_tasks};

fn task(site: &str, ques: &str) -> Task {
    Task {
        web_name: site.to_string(),
        id: format!("{site}--0"),
        ques: ques.to_string(),
        web: "https://example.invalid/".to_string(),
    }
}

#[test]
fn published_totals_are_reproduced_exactly() {
    let tasks = load_tasks(&common::webvoyager().join("WebVoyager_data.jsonl")).unwrap();
    assert_eq!(tasks.len(), 643);
    let report = compat::describe(&tasks, &[1, 2, 4, 8]).unwrap();
    let at = |w: u64| report.fleet.iter().find(|r| r.workers == w).unwrap();
    assert_eq!(at(1).prefill_tokens.get(Policy::Naive), 170_930_292);
    assert_eq!(at(1).prefill_tokens.get(Policy::PrivateKv), 19_386_804);
    assert_eq!(at(1).prefill_tokens.get(Policy::SharedPrefix), 19_386_804);
    assert_eq!(at(8).prefill_tokens.get(Policy::Naive), 1_367_442_336);
    assert_eq!(at(8).prefill_tokens.get(Policy::SharedPrefix), 141_321_904);
    assert_eq!(at(8).prefill_tokens.get(Policy::PrivateKv), 8 * 19_386_804);
}

#[test]
fn prefix_counts_the_task_text_twice_in_utf8_bytes() {
    // 4 ASCII bytes: 3000 + 1 + 1.
    assert_eq!(Shape::of_task(&task("ESPN", "abcd")).prefix, 3002);
    // 4 characters, 8 bytes: bytes decide (3000 + 2 + 2), not characters.
    assert_eq!(Shape::of_task(&task("ESPN", "éééé")).prefix, 3004);
    // Integer division before doubling: 7 bytes give 1 + 1.
    assert_eq!(Shape::of_task(&task("ESPN", "abcdefg")).prefix, 3002);
}

#[test]
fn turns_follow_site_difficulty() {
    for (site, turns) in [
        ("ESPN", 5),
        ("Google Search", 5),
        ("Amazon", 25),
        ("Apple", 25),
        ("Coursera", 25),
        ("GitHub", 12),
        ("Wolfram Alpha", 12),
    ] {
        assert_eq!(Shape::of_task(&task(site, "abcd")).turns, turns, "{site}");
    }
}

#[test]
fn policy_formulas_match_hand_computation() {
    let s = Shape {
        prefix: 3002,
        turns: 5,
    };
    // naive: w(TP + 2150 T(T-1)/2) = 2(15010 + 21500)
    assert_eq!(s.prefill(2, Policy::Naive), 73_020);
    // private: w(P + 2150(T-1)) = 2(3002 + 8600)
    assert_eq!(s.prefill(2, Policy::PrivateKv), 23_204);
    // shared: P + w 2150(T-1) = 3002 + 17200
    assert_eq!(s.prefill(2, Policy::SharedPrefix), 20_202);
}

#[test]
fn context_curve_ends_at_the_longest_task_and_its_totals() {
    let tasks = vec![task("ESPN", "abcd"), task("Amazon", "abcdefgh")];
    let report = compat::describe(&tasks, &[1, 3]).unwrap();
    let c = &report.context;
    assert_eq!(c.workers, 3);
    // mean prefix (3002 + 3004) / 2 = 3003, over the longest task's 25 turns.
    assert_eq!(c.x.len(), 25);
    assert_eq!(c.x[0], 3003);
    assert_eq!(*c.x.last().unwrap(), 3003 + 2150 * 24);
    let end = Shape {
        prefix: 3003,
        turns: 25,
    };
    for policy in Policy::ALL {
        assert_eq!(
            *c.cumulative_prefill.of(policy).last().unwrap(),
            end.prefill(3, policy)
        );
    }
}

#[test]
fn bad_fleet_sizes_are_refused() {
    let tasks = vec![task("ESPN", "abcd")];
    for (workers, message) in [
        (vec![], "--workers: no fleet size given"),
        (vec![0, 1], "--workers: a fleet needs at least 1 worker"),
        (vec![2, 2], "--workers: a fleet size is listed twice"),
    ] {
        let err = compat::describe(&tasks, &workers).unwrap_err().to_string();
        assert_eq!(err, message);
    }
}

#[test]
fn malformed_task_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tasks.jsonl");
    std::fs::write(
        &path,
        "{\"web_name\": \"ESPN\", \"id\": \"ESPN--0\", \"ques\": \"q\", \"web\": \"w\"}\n{\"id\": 3}\n",
    )
    .unwrap();
    let err = load_tasks(&path).unwrap_err().to_string();
    assert!(err.contains("tasks.jsonl: line 2: not a task"), "{err}");
}
