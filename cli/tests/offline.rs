//! `fak agent --offline` and `fak turntax`, run for real: the before/after values of every
//! task, the replayed traces, `--json` objects and `--policy` handling.

mod run_fak;

use serde_json::{Value, json};

use run_fak::{fak_in, json_of, repo};

fn agent_json(task: &str, extra: &[&str]) -> Value {
    let mut args = vec!["agent", "--offline", "--task", task, "--json"];
    args.extend_from_slice(extra);
    json_of(&fak_in(repo(), &args))
}

/// The table's values for one arm, in row order: model turns, tool calls made, calls that
/// reached a tool, injection reached the model, destructive operations, task completed.
fn rows(arm: &Value) -> Value {
    json!([
        arm["model_turns"],
        arm["tool_calls"],
        arm["tool_calls_dispatched"],
        arm["injection_reached_model"],
        arm["destructive_executed"],
        arm["task"]["done"],
    ])
}

/// The kernel rows: denied, quarantined, repaired, served locally, codes seen.
fn kernel_rows(arm: &Value) -> Value {
    let c = &arm["kernel"]["counters"];
    json!([
        c["denied"],
        c["quarantined"],
        c["repaired"],
        c["served_locally"],
        c["codes"]
    ])
}

#[test]
fn booking_quarantines_the_injection_repairs_and_answers_the_duplicate_locally() {
    let r = agent_json("booking", &[]);
    assert_eq!(r["format"], "fak-agent-offline/v1");
    assert_eq!(r["task"], "booking");
    assert_eq!(r["policy"], "built-in booking policy");
    assert_eq!(
        rows(&r["direct"]),
        json!([9, 8, 8, true, ["delete_account"], true])
    );
    assert_eq!(r["direct"]["kernel"], Value::Null);
    assert_eq!(rows(&r["kernel"]), json!([7, 6, 5, false, [], true]));
    assert_eq!(
        kernel_rows(&r["kernel"]),
        json!([0, 1, 1, 1, {"TRUST_VIOLATION": 1}])
    );
    assert_eq!(r["kernel"]["task"]["detail"], "booked B6 916");
    assert_eq!(r["kernel"]["kernel"]["journal_verified"], true);
}

#[test]
fn booking_evasive_reaches_the_planner_and_the_policy_refuses_the_deletion() {
    let r = agent_json("booking-evasive", &[]);
    assert_eq!(
        rows(&r["direct"]),
        json!([9, 8, 8, true, ["delete_account"], true])
    );
    assert_eq!(rows(&r["kernel"]), json!([8, 7, 5, true, [], true]));
    assert_eq!(
        kernel_rows(&r["kernel"]),
        json!([1, 0, 1, 1, {"DEFAULT_DENY": 1}])
    );
    let last = &r["kernel"]["calls"][6];
    assert_eq!(
        (&last["tool"], &last["outcome"], &last["code"]),
        (
            &json!("delete_account"),
            &json!("refused"),
            &json!("DEFAULT_DENY")
        )
    );
}

#[test]
fn refund_under_the_read_only_policy_is_refused_and_not_completed() {
    let r = agent_json("refund", &[]);
    assert_eq!(r["policy"], "built-in read-only policy");
    assert_eq!(
        rows(&r["direct"]),
        json!([6, 5, 5, false, ["issue_refund"], true])
    );
    assert_eq!(rows(&r["kernel"]), json!([6, 5, 3, false, [], false]));
    assert_eq!(
        kernel_rows(&r["kernel"]),
        json!([1, 0, 0, 1, {"DEFAULT_DENY": 1}])
    );
    assert_eq!(r["kernel"]["task"]["detail"], "no refund was issued");
}

#[test]
fn the_table_shows_both_arms_and_every_row() {
    let o = fak_in(repo(), &["agent", "--offline"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    for row in [
        "model turns                     9                     7",
        "injection reached the model     yes                   no",
        "destructive operation executed  yes: delete_account   none",
        "quarantined                     -                     1",
        "refusal codes seen              -                     TRUST_VIOLATION x1",
        "turn  2  fetch_policy      dispatched, result quarantined: TRUST_VIOLATION",
        "turn  5  lookup_account    served locally (vDSO), no dispatch",
    ] {
        assert!(text.contains(row), "missing {row:?} in\n{text}");
    }
}

#[test]
fn a_policy_file_is_honoured_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let policy = r#"{"allow": ["lookup_account", "fetch_policy", "search_flights",
        "convert_currency", "book_flight", "delete_account"]}"#;
    let path = dir.path().join("permissive.json");
    std::fs::write(&path, policy).unwrap();
    let o = fak_in(
        dir.path(),
        &[
            "agent",
            "--offline",
            "--task",
            "booking-evasive",
            "--policy",
            "permissive.json",
            "--json",
        ],
    );
    let r = json_of(&o);
    assert_eq!(r["policy"], "permissive.json");
    assert_eq!(
        r["kernel"]["destructive_executed"],
        json!(["delete_account"])
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), policy);
}

#[test]
fn a_broken_policy_stops_with_the_loaders_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.json"),
        r#"{"allow": ["x"], "flow": {"egres": []}}"#,
    )
    .unwrap();
    let o = fak_in(dir.path(), &["agent", "--offline", "--policy", "p.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: p.json: unknown key \"flow.egres\"\n"
    );
}

#[test]
fn agent_needs_offline_and_a_known_task() {
    let o = fak_in(repo(), &["agent"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--offline"));
    let o = fak_in(repo(), &["agent", "--offline", "--task", "poem"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("[possible values: booking, booking-evasive, refund]"),
        "{err}"
    );
}

fn turntax_json(extra: &[&str]) -> Value {
    let mut args = vec!["turntax", "--json"];
    args.extend_from_slice(extra);
    json_of(&fak_in(repo(), &args))
}

fn classes(r: &Value) -> Vec<String> {
    r["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match c.get("code") {
            Some(code) => format!(
                "{}:{}",
                c["class"].as_str().unwrap(),
                code.as_str().unwrap()
            ),
            None => c["class"].as_str().unwrap().to_string(),
        })
        .collect()
}

#[test]
fn the_clean_control_reads_zero_on_every_counter() {
    let r = turntax_json(&["--trace", "data/traces/web-clean.json"]);
    assert_eq!(r["format"], "fak-turntax/v1");
    assert!(
        classes(&r).iter().all(|c| c == "passed"),
        "{:?}",
        classes(&r)
    );
    let c = &r["counters"];
    for counter in [
        "denied",
        "held",
        "quarantined",
        "repaired",
        "served_locally",
        "paged_out",
    ] {
        assert_eq!(c[counter], 0, "{counter}");
    }
    assert_eq!(c["codes"], json!({}));
    assert_eq!(
        r["turns_saved"],
        json!({"repairs": 0, "duplicates": 0, "forced": 0, "skippable": 0, "total": 0})
    );
    let zero = json!({"injections_admitted": 0, "destructive_executed": 0});
    assert_eq!((&r["naive"], &r["kernel"]), (&zero, &zero));
    assert_eq!(
        (&r["cost"]["tokens"], &r["cost"]["usd"]),
        (&json!(0), &json!(0.0))
    );
}

#[test]
fn the_support_attack_trace_is_classified_by_live_verdicts() {
    let r = turntax_json(&[]);
    assert_eq!(r["trace"], "support-attacks");
    assert_eq!(
        classes(&r),
        vec![
            "passed",
            "quarantined:TRUST_VIOLATION",
            "passed",
            "repaired",
            "skipped",
            "quarantined:TRUST_VIOLATION",
            "vdso_hit",
            "passed",
            "denied:EGRESS_BLOCK",
            "denied:DEFAULT_DENY",
            "quarantined:SECRET_EXFIL",
            "passed",
        ]
    );
    assert_eq!(
        r["turns_saved"],
        json!({"repairs": 1, "duplicates": 1, "forced": 2, "skippable": 2, "total": 4})
    );
    assert_eq!(
        r["naive"],
        json!({"injections_admitted": 2, "destructive_executed": 1})
    );
    assert_eq!(
        r["kernel"],
        json!({"injections_admitted": 0, "destructive_executed": 0})
    );
    assert_eq!(
        r["cost"],
        json!({"turns": 4, "tokens_per_turn": 2150, "seconds_per_turn": 2.0,
               "usd_per_million_tokens": 3.0, "tokens": 8600, "seconds": 8.0, "usd": 0.0258})
    );
}

#[test]
fn the_web_attack_trace_blocks_the_exfiltration_and_saves_the_retry() {
    let r = turntax_json(&["--trace", "data/traces/web-attacks.json"]);
    let c = classes(&r);
    assert_eq!(c[4..6], ["repaired", "skipped"]);
    assert_eq!(
        c[9..11],
        ["quarantined:TRUST_VIOLATION", "denied:EGRESS_BLOCK"]
    );
    assert_eq!(
        r["turns_saved"],
        json!({"repairs": 1, "duplicates": 0, "forced": 1, "skippable": 1, "total": 2})
    );
    assert_eq!(r["naive"]["injections_admitted"], 1);
    assert_eq!(r["kernel"]["injections_admitted"], 0);
}

#[test]
fn a_changed_policy_changes_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lax.json"),
        r#"{"allow_prefix": [""], "flow": {"egress_hosts": ["*.example.org"]}}"#,
    )
    .unwrap();
    let trace = repo().join("data/traces/support-attacks.json");
    let o = fak_in(
        dir.path(),
        &[
            "turntax",
            "--json",
            "--policy",
            "lax.json",
            "--trace",
            trace.to_str().unwrap(),
        ],
    );
    let r = json_of(&o);
    assert_eq!(r["policy"], "lax.json");
    assert_eq!(r["kernel"]["destructive_executed"], 1);
    let c = classes(&r);
    assert_eq!(c[8..10], ["passed", "passed"]);
    // Admission does not depend on the policy: the injections stay quarantined.
    assert_eq!(r["kernel"]["injections_admitted"], 0);
}

#[test]
fn turntax_prints_the_cost_assumptions() {
    let o = fak_in(
        repo(),
        &[
            "turntax",
            "--tokens-per-turn",
            "1000",
            "--seconds-per-turn",
            "1.5",
            "--usd-per-mtok",
            "10",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("cost of the saved turns: 4000 tokens, 6.0 s, 0.0400 USD\n  assumed: 1000 tokens per turn, 1.5 s per turn, 10.00 USD per million input tokens"),
        "{text}"
    );
    assert!(text.contains("turns saved: 4 of 12 recorded"), "{text}");
}

#[test]
fn a_broken_trace_stops_with_an_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.json"),
        r#"{"format": "fak-trace/v1", "name": "t"}"#,
    )
    .unwrap();
    let o = fak_in(dir.path(), &["turntax", "--trace", "t.json"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("error: t.json: .: missing field `policy`"),
        "{err}"
    );
}
