//! Helpers shared by the harness's integration tests.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// The repository root (harness/..).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

/// The shared WebVoyager data, read from the path the project documents. Tests that need
/// it fail (not skip) without it: CI lays shared/ beside the clone.
pub fn webvoyager() -> PathBuf {
    let dir = repo_root().join("../shared/data/webvoyager");
    assert!(
        dir.join("WebVoyager_data.jsonl").is_file(),
        "the WebVoyager data is missing at {}",
        dir.display()
    );
    dir
}

/// A valid MODELED entry; tests change one field at a time.
pub fn entry(id: &str, value: f64) -> Value {
    json!({
        "id": id,
        "title": format!("test number {id}"),
        "value": value,
        "unit": "tokens",
        "provenance": "MODELED",
        "command": "cargo run -p fak-harness -- webbench describe --tasks t.jsonl",
    })
}

/// A ledger document holding `entries`.
pub fn ledger_text(entries: Vec<Value>) -> String {
    serde_json::to_string_pretty(&json!({ "schema": 1, "entries": entries })).unwrap()
}

/// Runs the harness binary with `--root root` and `args`; returns (status, stdout, stderr).
pub fn harness(root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        // CI sets it for the whole run; these tests choose their backends by name, and
        // `verify` would otherwise require Vulkan as if it were named.
        .env_remove("FAK_REQUIRE_VULKAN")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("the harness binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A temporary git repository with one commit, so `ledger add` can stamp a commit.
pub fn git_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "start"]);
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    dir
}
