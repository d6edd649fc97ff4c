//! The binary end to end, in a scratch repository: ledger add/update/list/show stamp and
//! refuse as documented, and `authority --check` / `figures --check` fail on drift.

mod common;

use common::{entry, git_repo, harness};
use serde_json::json;

fn measurement(dir: &std::path::Path, name: &str, value: f64) -> String {
    let mut e = entry("turntax.compat.prefill.naive.w1", value);
    e["params"] = json!({ "study": "turntax.compat.prefill", "policy": "naive", "workers": 1 });
    let path = dir.join(name);
    std::fs::write(&path, json!({ "entries": [e] }).to_string()).unwrap();
    path.display().to_string()
}

/// Writes the one test entry with `value` through `harness ledger VERB`.
fn set(root: &std::path::Path, verb: &str, value: f64) {
    let file = measurement(root, &format!("{verb}-{value}.json"), value);
    let (status, _, stderr) = harness(root, &["ledger", verb, "--from", &file]);
    assert_eq!(status, 0, "{stderr}");
}

fn scratch_repo() -> tempfile::TempDir {
    let repo = git_repo();
    std::fs::write(
        repo.path().join("data/ledger.json"),
        "{\"schema\": 1, \"entries\": []}\n",
    )
    .unwrap();
    std::fs::copy(
        common::repo_root().join("data/capabilities.json"),
        repo.path().join("data/capabilities.json"),
    )
    .unwrap();
    repo
}

#[test]
fn ledger_add_stamps_the_commit_and_refuses_a_second_add() {
    let repo = scratch_repo();
    let root = repo.path();
    let file = measurement(root, "m.json", 170930292.0);
    let (status, stdout, stderr) = harness(root, &["ledger", "add", "--from", &file]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("added 1 entries"));
    let (_, shown, _) = harness(root, &["ledger", "show", "turntax.compat.prefill.naive.w1"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let head = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(
        shown["commit"],
        json!(String::from_utf8_lossy(&head.stdout).trim())
    );
    assert_eq!(shown["value"], json!(170930292));
    assert_eq!(shown["date"].as_str().unwrap().len(), 10);

    let (status, _, stderr) = harness(root, &["ledger", "add", "--from", &file]);
    assert_eq!(status, 2);
    assert!(stderr.contains("already in the ledger"), "{stderr}");

    let (_, listed, _) = harness(root, &["ledger", "list"]);
    assert!(listed.contains("170,930,292"), "{listed}");
    let (status, _, stderr) = harness(root, &["ledger", "show", "nope"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("no entry \"nope\""));
}

#[test]
fn ledger_update_refuses_an_id_not_in_the_ledger() {
    let repo = scratch_repo();
    let file = measurement(repo.path(), "m.json", 1.0);
    let (status, _, stderr) = harness(repo.path(), &["ledger", "update", "--from", &file]);
    assert_eq!(status, 2);
    assert!(
        stderr.contains("not in the ledger (use `harness ledger add`"),
        "{stderr}"
    );
}

#[test]
fn authority_check_fails_when_the_ledger_moves_on() {
    let repo = scratch_repo();
    let root = repo.path();
    set(root, "add", 10.0);
    assert_eq!(harness(root, &["authority"]).0, 0);
    assert_eq!(harness(root, &["authority", "--check"]).0, 0);
    let doc = std::fs::read_to_string(root.join("BENCHMARK-AUTHORITY.md")).unwrap();
    assert!(
        doc.contains("| `turntax.compat.prefill.naive.w1` |"),
        "{doc}"
    );

    set(root, "update", 11.0);
    let (status, _, stderr) = harness(root, &["authority", "--check"]);
    assert_eq!(status, 1);
    assert!(stderr.contains("drift: "), "{stderr}");

    // A hand edit is drift too.
    assert_eq!(harness(root, &["authority"]).0, 0);
    let path = root.join("BENCHMARK-AUTHORITY.md");
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("11 tokens", "12 tokens");
    std::fs::write(&path, edited).unwrap();
    assert_eq!(harness(root, &["authority", "--check"]).0, 1);
}

#[test]
fn figures_check_fails_when_the_ledger_moves_on() {
    let repo = scratch_repo();
    let root = repo.path();
    set(root, "add", 10.0);
    let (status, stdout, _) = harness(root, &["figures"]);
    assert_eq!(status, 0);
    assert!(stdout.contains("not drawn: parity_table (no entries yet for study \"parity\")"));
    assert!(root.join("figures/turn_tax_fleet_compat.png").is_file());
    assert!(root.join("figures/capability_matrix.svg").is_file());
    assert_eq!(harness(root, &["figures", "--check"]).0, 0);

    set(root, "update", 11.0);
    let (status, _, stderr) = harness(root, &["figures", "--check"]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("turn_tax_fleet_compat.svg differs"),
        "{stderr}"
    );
}

#[test]
fn a_broken_ledger_stops_every_command_with_its_reason() {
    let repo = scratch_repo();
    let root = repo.path();
    let mut e = entry("decode_qwen05b_cpu", 1.0);
    e["valu"] = json!(1);
    std::fs::write(
        root.join("data/ledger.json"),
        json!({ "schema": 1, "entries": [e] }).to_string(),
    )
    .unwrap();
    for args in [
        &["ledger", "list"][..],
        &["authority", "--check"],
        &["figures", "--check"],
    ] {
        let (status, _, stderr) = harness(root, args);
        assert_eq!(status, 2, "{args:?}");
        assert!(
            stderr.contains("entry \"decode_qwen05b_cpu\": unknown field \"valu\""),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn readme_check_fails_on_a_stale_table_and_names_a_missing_entry() {
    let repo = scratch_repo();
    let root = repo.path();
    let mut entries = Vec::new();
    for (policy, tokens) in [
        ("naive", 100.0),
        ("private_kv", 40.0),
        ("shared_prefix", 20.0),
    ] {
        for (what, value) in [("prefill", tokens), ("seconds", tokens / 10.0)] {
            let mut e = entry(&format!("fleet.live.{what}.{policy}.w1"), value);
            e["params"] =
                json!({ "study": format!("fleet.live.{what}"), "policy": policy, "workers": 1 });
            entries.push(e);
        }
    }
    let file = root.join("fleet.json");
    std::fs::write(&file, json!({ "entries": entries }).to_string()).unwrap();
    let (status, _, stderr) = harness(root, &["ledger", "add", "--from", file.to_str().unwrap()]);
    assert_eq!(status, 0, "{stderr}");

    let readme = root.join("README.md");
    std::fs::write(
        &readme,
        "# t\n<!-- ledger:fleet -->\nold table\n<!-- /ledger:fleet -->\n",
    )
    .unwrap();
    let (status, _, stderr) = harness(root, &["readme", "--check"]);
    assert_eq!(status, 1, "the hand-written table is stale: {stderr}");
    assert!(stderr.contains("drift: "), "{stderr}");
    assert_eq!(harness(root, &["readme"]).0, 0);
    assert_eq!(harness(root, &["readme", "--check"]).0, 0);
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(
        text.contains("| 1 | 100 tokens, 10 s | 40 (0.4x), 4 s | 20 (0.2x), 2 s |"),
        "{text}"
    );

    std::fs::write(
        &readme,
        "<!-- ledger:throughput -->\n<!-- /ledger:throughput -->\n",
    )
    .unwrap();
    let (status, _, stderr) = harness(root, &["readme", "--check"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("no entry throughput.decode.*"), "{stderr}");
}
