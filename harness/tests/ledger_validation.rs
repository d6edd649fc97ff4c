//! The ledger refuses bad entries with the file, the entry and the field named, and
//! writes only stamped, consistent entries.

mod common;

use common::{entry, ledger_text};
use fak_harness::ledger::{EntryProblem, Ledger, LedgerError, Stamp, WriteMode, parse_measurement};
use serde_json::{Value, json};

fn refusal(entries: Vec<Value>) -> String {
    Ledger::parse(&ledger_text(entries), "ledger.json")
        .expect_err("the ledger must be refused")
        .to_string()
}

fn with(mut e: Value, key: &str, value: Value) -> Value {
    e[key] = value;
    e
}

fn stamp() -> Stamp {
    Stamp {
        date: "2026-11-26".to_string(),
        commit: "0123456789abcdef0123456789abcdef01234567".to_string(),
        machine: "test machine".to_string(),
    }
}

#[test]
fn unknown_field_is_refused_naming_the_entry_and_the_field() {
    let mut e = entry("decode_qwen05b_cpu", 10.0);
    e["valu"] = json!(3);
    assert_eq!(
        refusal(vec![e]),
        "ledger.json: entry \"decode_qwen05b_cpu\": unknown field \"valu\""
    );
}

#[test]
fn unknown_nested_field_is_named_by_its_path() {
    let e = with(
        entry("a", 1.0),
        "baseline",
        json!({ "what": "b", "value": 2, "vlaue": 2 }),
    );
    assert_eq!(
        refusal(vec![e]),
        "ledger.json: entry \"a\": unknown field \"baseline.vlaue\""
    );
}

#[test]
fn unknown_top_level_field_is_refused() {
    let text = r#"{"schema": 1, "entries": [], "extra": true}"#;
    let err = Ledger::parse(text, "ledger.json").unwrap_err().to_string();
    assert_eq!(err, "ledger.json: unknown field \"extra\"");
}

#[test]
fn missing_field_names_the_field() {
    let mut e = entry("a", 1.0);
    e.as_object_mut().unwrap().remove("unit");
    let err = refusal(vec![e]);
    assert!(err.starts_with("ledger.json: entry \"a\": "), "{err}");
    assert!(err.contains("missing field `unit`"), "{err}");
}

#[test]
fn entry_without_an_id_is_named_by_position() {
    let mut e = entry("a", 1.0);
    e.as_object_mut().unwrap().remove("id");
    let err = refusal(vec![entry("b", 1.0), e]);
    assert!(err.starts_with("ledger.json: entry #1 (no id): "), "{err}");
}

#[test]
fn provenance_outside_the_three_is_refused() {
    let err = refusal(vec![with(entry("a", 1.0), "provenance", json!("GUESSED"))]);
    assert!(err.contains("entry \"a\""), "{err}");
    assert!(err.contains("GUESSED"), "{err}");
}

#[test]
fn measured_entry_must_carry_machine_date_and_commit() {
    let measured = with(entry("m", 1.0), "provenance", json!("MEASURED"));
    assert_eq!(
        refusal(vec![measured.clone()]),
        "ledger.json: entry \"m\": a MEASURED entry must carry \"machine\""
    );
    let with_machine = with(measured, "machine", json!("box"));
    assert_eq!(
        refusal(vec![with_machine.clone()]),
        "ledger.json: entry \"m\": a MEASURED entry must carry \"date\""
    );
    let with_date = with(with_machine, "date", json!("2026-11-26"));
    assert_eq!(
        refusal(vec![with_date.clone()]),
        "ledger.json: entry \"m\": a MEASURED entry must carry \"commit\""
    );
    let complete = with(
        with_date,
        "commit",
        json!("0123456789abcdef0123456789abcdef01234567"),
    );
    Ledger::parse(&ledger_text(vec![complete]), "ledger.json").expect("complete entry loads");
}

#[test]
fn empty_command_is_refused() {
    assert_eq!(
        refusal(vec![with(entry("a", 1.0), "command", json!("  "))]),
        "ledger.json: entry \"a\": field \"command\" is empty"
    );
}

#[test]
fn duplicate_ids_are_refused() {
    assert_eq!(
        refusal(vec![entry("a", 1.0), entry("a", 2.0)]),
        "ledger.json: entry \"a\": the id is used more than once"
    );
}

#[test]
fn malformed_ids_dates_and_commits_are_refused() {
    assert!(
        refusal(vec![entry("Bad Id", 1.0)])
            .ends_with("id must be non-empty and use only a-z, 0-9, '_', '.' or '-'")
    );
    assert!(
        refusal(vec![with(entry("a", 1.0), "date", json!("26/11/2026"))])
            .contains("\"date\" \"26/11/2026\"")
    );
    assert!(refusal(vec![with(entry("a", 1.0), "date", json!("2026-02-30"))]).contains("\"date\""));
    assert!(
        refusal(vec![with(entry("a", 1.0), "commit", json!("abc123"))])
            .contains("\"commit\" \"abc123\"")
    );
}

#[test]
fn ratio_must_equal_value_over_baseline() {
    let base = with(
        entry("a", 10.0),
        "baseline",
        json!({ "what": "b", "value": 4 }),
    );
    Ledger::parse(
        &ledger_text(vec![with(base.clone(), "ratio", json!(2.5))]),
        "ledger.json",
    )
    .expect("consistent ratio loads");
    assert_eq!(
        refusal(vec![with(base, "ratio", json!(2.4))]),
        "ledger.json: entry \"a\": \"ratio\" is 2.4 but value / baseline.value is 2.5"
    );
    assert_eq!(
        refusal(vec![with(entry("a", 10.0), "ratio", json!(2.5))]),
        "ledger.json: entry \"a\": \"ratio\" is given but there is no \"baseline\" to divide by"
    );
}

#[test]
fn baseline_citing_an_entry_must_match_its_value() {
    let cites = |value: f64, cited: &str| {
        with(
            entry("b", 5.0),
            "baseline",
            json!({ "what": "a", "value": value, "entry": cited }),
        )
    };
    Ledger::parse(
        &ledger_text(vec![entry("a", 10.0), cites(10.0, "a")]),
        "ledger.json",
    )
    .expect("matching citation loads");
    assert_eq!(
        refusal(vec![entry("a", 10.0), cites(9.0, "a")]),
        "ledger.json: entry \"b\": \"baseline.value\" is 9 but entry \"a\" holds 10"
    );
    assert_eq!(
        refusal(vec![cites(9.0, "nowhere")]),
        "ledger.json: entry \"b\": \"baseline.entry\" names \"nowhere\", which is not in the ledger"
    );
}

#[test]
fn series_must_increase_and_end_at_the_value() {
    let series = |points: Value| json!({ "x_label": "turn", "x_unit": "turns", "points": points });
    let good = with(
        entry("s", 30.0),
        "series",
        series(json!([[1, 10], [2, 30]])),
    );
    Ledger::parse(&ledger_text(vec![good]), "ledger.json").expect("good series loads");
    assert!(
        refusal(vec![with(
            entry("s", 30.0),
            "series",
            series(json!([[2, 10], [2, 30]]))
        )])
        .ends_with("\"series.points\" x does not increase at index 1")
    );
    assert!(
        refusal(vec![with(
            entry("s", 10.0),
            "series",
            series(json!([[1, 10], [2, 30]]))
        )])
        .ends_with("\"value\" is 10 but the series ends at y = 30; value must be the last y")
    );
    assert!(
        refusal(vec![with(entry("s", 10.0), "series", series(json!([])))])
            .ends_with("\"series.points\" is empty")
    );
}

#[test]
fn unsupported_schema_is_refused() {
    let err = Ledger::parse(r#"{"schema": 2, "entries": []}"#, "ledger.json")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "ledger.json: schema 2 is not supported (this harness reads schema 1)"
    );
}

#[test]
fn written_ledger_reads_back_identical() {
    let mut ledger = Ledger::parse(&ledger_text(vec![]), "ledger.json").unwrap();
    let input = json!({ "entries": [
        entry("a", 170930292.0),
        with(entry("b", 0.125), "baseline", json!({ "what": "a", "value": 170930292, "entry": "a" })),
    ]});
    let incoming = parse_measurement(&input.to_string(), "in.json").unwrap();
    ledger
        .write(incoming, WriteMode::Add, &stamp(), "in.json")
        .unwrap();
    let text = ledger.to_json();
    assert!(
        text.contains("\"value\": 170930292,"),
        "integers stay integers:\n{text}"
    );
    assert_eq!(Ledger::parse(&text, "ledger.json").unwrap(), ledger);
}

#[test]
fn add_stamps_date_commit_machine_and_fills_the_ratio() {
    let mut ledger = Ledger::parse(&ledger_text(vec![]), "ledger.json").unwrap();
    let input = json!({ "entries": [
        with(entry("b", 5.0), "baseline", json!({ "what": "twenty", "value": 20 })),
    ]});
    let incoming = parse_measurement(&input.to_string(), "in.json").unwrap();
    ledger
        .write(incoming, WriteMode::Add, &stamp(), "in.json")
        .unwrap();
    let b = ledger.get("b").unwrap();
    assert_eq!(b.date.as_deref(), Some("2026-11-26"));
    assert_eq!(
        b.commit.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(b.machine.as_deref(), Some("test machine"));
    assert_eq!(b.ratio, Some(0.25));
}

#[test]
fn add_refuses_an_existing_id_and_update_a_missing_one() {
    let mut ledger = Ledger::parse(&ledger_text(vec![]), "ledger.json").unwrap();
    let input = |value: f64, id: &str| {
        parse_measurement(
            &json!({ "entries": [entry(id, value)] }).to_string(),
            "in.json",
        )
        .unwrap()
    };
    ledger
        .write(input(1.0, "a"), WriteMode::Add, &stamp(), "in.json")
        .unwrap();
    let again = ledger.write(input(2.0, "a"), WriteMode::Add, &stamp(), "in.json");
    assert!(matches!(
        again,
        Err(LedgerError::Entry {
            problem: EntryProblem::AlreadyPresent,
            ..
        })
    ));
    let missing = ledger.write(input(2.0, "z"), WriteMode::Update, &stamp(), "in.json");
    assert!(matches!(
        missing,
        Err(LedgerError::Entry {
            problem: EntryProblem::NotPresent,
            ..
        })
    ));
    ledger
        .write(input(2.0, "a"), WriteMode::Update, &stamp(), "in.json")
        .unwrap();
    assert_eq!(ledger.get("a").unwrap().value, 2.0);
    assert_eq!(ledger.entries().len(), 1);
}

#[test]
fn replacing_a_study_drops_its_stale_members_keeps_other_studies_and_takes_the_run_order() {
    let in_study = |id: &str, study: &str, value: f64| {
        with(entry(id, value), "params", json!({ "study": study }))
    };
    let write = |ledger: &mut Ledger, entries: Vec<Value>, mode: WriteMode| {
        let incoming =
            parse_measurement(&json!({ "entries": entries }).to_string(), "in.json").unwrap();
        ledger.write(incoming, mode, &stamp(), "in.json")
    };
    let mut ledger = Ledger::parse(&ledger_text(vec![]), "ledger.json").unwrap();
    write(
        &mut ledger,
        vec![
            in_study("parity.old_name", "parity", 0.0),
            in_study("parity.kept", "parity", 0.0),
            in_study("other.x", "other", 1.0),
        ],
        WriteMode::Add,
    )
    .unwrap();
    write(
        &mut ledger,
        vec![
            in_study("parity.kept", "parity", 1.0),
            in_study("parity.new_name", "parity", 0.0),
        ],
        WriteMode::ReplaceStudies,
    )
    .unwrap();
    let ids: Vec<&str> = ledger.entries().iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["parity.kept", "parity.new_name", "other.x"]);
    assert_eq!(ledger.get("parity.kept").unwrap().value, 1.0);
}

#[test]
fn replacing_a_study_refuses_to_drop_an_entry_another_cites() {
    let mut ledger = Ledger::parse(&ledger_text(vec![]), "ledger.json").unwrap();
    let cited = with(entry("s.base", 10.0), "params", json!({ "study": "s" }));
    let citing = with(
        entry("t.ratio", 5.0),
        "baseline",
        json!({ "what": "base", "value": 10, "entry": "s.base" }),
    );
    ledger
        .write(
            parse_measurement(
                &json!({ "entries": [cited, citing] }).to_string(),
                "in.json",
            )
            .unwrap(),
            WriteMode::Add,
            &stamp(),
            "in.json",
        )
        .unwrap();
    let before = ledger.clone();
    let rerun = with(entry("s.renamed", 10.0), "params", json!({ "study": "s" }));
    let err = ledger
        .write(
            parse_measurement(&json!({ "entries": [rerun] }).to_string(), "in.json").unwrap(),
            WriteMode::ReplaceStudies,
            &stamp(),
            "in.json",
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("entry \"t.ratio\"") && err.contains("s.base"),
        "{err}"
    );
    assert_eq!(ledger, before);
}

#[test]
fn input_may_not_carry_what_the_harness_stamps() {
    let mut ledger = Ledger::parse(&ledger_text(vec![]), "ledger.json").unwrap();
    let input = json!({ "entries": [with(entry("a", 1.0), "commit", json!("0123456789abcdef0123456789abcdef01234567"))] });
    let incoming = parse_measurement(&input.to_string(), "in.json").unwrap();
    let err = ledger
        .write(incoming, WriteMode::Add, &stamp(), "in.json")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "in.json: entry \"a\": \"commit\" is stamped by `harness ledger add/update`; remove it from the input"
    );
    assert!(
        ledger.entries().is_empty(),
        "a refused write changes nothing"
    );
}

#[test]
fn a_write_that_breaks_a_citation_changes_nothing() {
    let mut ledger = Ledger::parse(&ledger_text(vec![]), "ledger.json").unwrap();
    let both = json!({ "entries": [
        entry("a", 10.0),
        with(entry("b", 5.0), "baseline", json!({ "what": "a", "value": 10, "entry": "a" })),
    ]});
    ledger
        .write(
            parse_measurement(&both.to_string(), "in.json").unwrap(),
            WriteMode::Add,
            &stamp(),
            "in.json",
        )
        .unwrap();
    let before = ledger.clone();
    let change_a = json!({ "entries": [entry("a", 11.0)] });
    let err = ledger
        .write(
            parse_measurement(&change_a.to_string(), "in.json").unwrap(),
            WriteMode::Update,
            &stamp(),
            "in.json",
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("entry \"b\": \"baseline.value\" is 10 but entry \"a\" holds 11"),
        "{err}"
    );
    assert_eq!(ledger, before);
}

#[test]
fn measurement_file_with_no_entries_is_refused() {
    let err = parse_measurement(r#"{"entries": []}"#, "in.json")
        .unwrap_err()
        .to_string();
    assert_eq!(err, "in.json: \"entries\" is empty: nothing to write");
}

#[test]
fn the_committed_ledger_loads() {
    let path = common::repo_root().join("data/ledger.json");
    Ledger::load(&path).expect("data/ledger.json is valid");
}
