//! The journal catches tampering: any field of any line changed, a line deleted, two
//! lines swapped; and a cut-off tail is caught against a remembered head.

use fak_kernel::audit::{AuditRecord, EventKind, Journal, VerifyError, verify};

fn entry(i: u64) -> AuditRecord {
    AuditRecord {
        ts_ms: 1000 + i,
        trace: format!("trace-{}", i % 2),
        event: if i.is_multiple_of(2) {
            EventKind::Decision
        } else {
            EventKind::Admission
        },
        tool: format!("tool{i}"),
        outcome: if i.is_multiple_of(3) { "DENY" } else { "ALLOW" }.to_string(),
        code: i.is_multiple_of(3).then(|| "DEFAULT_DENY".to_string()),
        args_sha256: Some(format!("{i:064x}")),
        args_bytes: Some(10 * i),
        result_sha256: Some(format!("{:064x}", i + 7)),
        result_bytes: Some(i),
        policy_epoch: 0,
        world_epoch: i / 2,
        ..AuditRecord::default()
    }
}

fn journal_lines(n: u64) -> Vec<String> {
    let j = Journal::memory();
    for i in 0..n {
        j.append(entry(i)).unwrap();
    }
    j.memory_text().unwrap().lines().map(String::from).collect()
}

fn broken_line(lines: &[String]) -> u64 {
    match verify(lines.join("\n").as_bytes(), None) {
        Err(VerifyError::Broken { line, .. }) => line,
        other => panic!("tampering not caught: {other:?}"),
    }
}

/// A different value of the same JSON type.
fn altered(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Null => serde_json::json!("x"),
        serde_json::Value::Number(n) => serde_json::json!(n.as_u64().unwrap() + 1),
        serde_json::Value::String(s) => serde_json::json!(format!("{s}x")),
        other => panic!("unexpected field value {other}"),
    }
}

#[test]
fn intact_journal_verifies() {
    let lines = journal_lines(6);
    let summary = verify(lines.join("\n").as_bytes(), None).unwrap();
    assert_eq!(summary.lines, 6);
}

#[test]
fn changing_any_field_of_any_line_is_caught_at_that_line() {
    let lines = journal_lines(5);
    for (i, line) in lines.iter().enumerate() {
        let record: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).unwrap();
        assert_eq!(record.len(), 15, "every field is tested");
        for key in record.keys() {
            let mut tampered = record.clone();
            tampered.insert(key.clone(), altered(&record[key]));
            let mut copy = lines.clone();
            copy[i] = serde_json::Value::Object(tampered).to_string();
            assert_eq!(
                broken_line(&copy),
                i as u64 + 1,
                "field {key} of line {}",
                i + 1
            );
        }
    }
}

#[test]
fn deleting_any_line_but_the_last_is_caught() {
    let lines = journal_lines(5);
    for i in 0..lines.len() - 1 {
        let mut copy = lines.clone();
        copy.remove(i);
        assert_eq!(broken_line(&copy), i as u64 + 1, "deleted line {}", i + 1);
    }
}

#[test]
fn cutting_lines_off_the_end_is_caught_against_the_head() {
    let lines = journal_lines(5);
    let head = verify(lines.join("\n").as_bytes(), None).unwrap().head;
    let cut = &lines[..4];
    assert!(verify(cut.join("\n").as_bytes(), None).is_ok());
    assert!(matches!(
        verify(cut.join("\n").as_bytes(), Some(&head)),
        Err(VerifyError::Head { .. })
    ));
}

#[test]
fn swapping_any_two_lines_is_caught_at_the_first() {
    let lines = journal_lines(5);
    for i in 0..lines.len() {
        for j in i + 1..lines.len() {
            let mut copy = lines.clone();
            copy.swap(i, j);
            assert_eq!(
                broken_line(&copy),
                i as u64 + 1,
                "swapped {} and {}",
                i + 1,
                j + 1
            );
        }
    }
}

#[test]
fn added_field_or_garbage_line_is_caught() {
    let mut lines = journal_lines(3);
    lines[1] = lines[1].replacen('{', "{\"extra\":1,", 1);
    assert_eq!(broken_line(&lines), 2);
    let mut lines = journal_lines(3);
    lines.insert(2, "not json".into());
    assert_eq!(broken_line(&lines), 3);
}

#[test]
fn reopened_file_journal_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    {
        let j = Journal::open(&path).unwrap();
        j.append(entry(0)).unwrap();
        j.append(entry(1)).unwrap();
    }
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.len(), 2);
    j.append(entry(2)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let summary = verify(text.as_bytes(), Some(&j.head())).unwrap();
    assert_eq!(summary.lines, 3);
}

#[test]
fn broken_file_journal_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    {
        let j = Journal::open(&path).unwrap();
        j.append(entry(0)).unwrap();
        j.append(entry(1)).unwrap();
    }
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("tool1", "tool9");
    std::fs::write(&path, text).unwrap();
    let err = Journal::open(&path).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}
