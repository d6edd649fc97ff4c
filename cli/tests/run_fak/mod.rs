//! Running the `fak` binary from a test, as a user would.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs `fak args` in `dir`.
pub fn fak_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fak"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("fak runs")
}

/// The repository root, where data/ lives.
pub fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The one JSON object a run printed, after checking it exited 0.
pub fn json_of(o: &Output) -> Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("--json prints one JSON object")
}
