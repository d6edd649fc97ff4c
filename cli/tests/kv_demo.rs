//! `fak kv demo`, run for real on the committed fixture models.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/fixtures/models")
        .join(name)
}

fn demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fak"))
        .args(["kv", "demo"])
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("fak runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_demo_excises_the_tool_result_exactly_and_continues_a_reloaded_dump() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("demo.fakkv");
    let out = demo(&[
        "--model",
        fixture("qwen2").to_str().unwrap(),
        "--dump",
        dump.to_str().unwrap(),
        "--continue-tokens",
        "5",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("tool_result  untrusted"), "{stdout}");
    assert!(stdout.contains("max|Δ|        0 over"), "{stdout}");
    assert!(stdout.contains(": exact"), "{stdout}");
    assert!(
        stdout.contains("reloaded with 0 tokens computed"),
        "{stdout}"
    );
    assert!(stdout.contains("continue 5 tokens greedily: reloaded == uninterrupted: yes"));
    assert!(dump.is_file(), "--dump keeps the core dump");
}

#[test]
fn a_missing_model_is_an_error_naming_the_directory() {
    let out = demo(&["--model", "/nonexistent/model"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("/nonexistent/model"), "{stderr}");
    assert!(stderr.contains("--model"), "{stderr}");
}
