//! Witness syntax, as CLAIMS.md's preamble states it: a witness is an inline code span,
//! one of
//! - `crate::module::test_name`: a test by its path (crate as package or library name),
//! - `tests/file.rs::test_name` (or `kernel/tests/file.rs::mod::test_name`): a test in a
//!   file, the path from the repository root or from a crate's root,
//! - `bench: NAME`: a bench target,
//! - `command: CMD`, command `CMD`, or any span starting `cargo `: a command whose
//!   program exists (a workspace binary, cargo with its `-p`, `--bench` and `--test`
//!   targets, or a repository script),
//! - `artifact: PATH`: a file or directory in the repository.
//!
//! Other code spans on a line are ordinary code, not witnesses.

/// A named witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Witness {
    TestPath { krate: String, path: Vec<String> },
    TestInFile { file: String, path: Vec<String> },
    Bench(String),
    Command(String),
    Artifact(String),
}

impl std::fmt::Display for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Witness::TestPath { krate, path } => write!(f, "`{krate}::{}`", path.join("::")),
            Witness::TestInFile { file, path } => write!(f, "`{file}::{}`", path.join("::")),
            Witness::Bench(name) => write!(f, "`bench: {name}`"),
            Witness::Command(cmd) => write!(f, "`command: {cmd}`"),
            Witness::Artifact(path) => write!(f, "`artifact: {path}`"),
        }
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads one code span as a witness; `crates` are the workspace's crate names (package
/// and library spellings), which tell a test path from other code. `after_command_word`:
/// the line says "command" right before the span.
pub fn parse(span: &str, after_command_word: bool, crates: &[String]) -> Option<Witness> {
    let span = span.trim();
    if after_command_word || span.starts_with("cargo ") {
        return Some(Witness::Command(span.to_string()));
    }
    for (prefix, make) in [
        ("bench:", Witness::Bench as fn(String) -> Witness),
        ("command:", Witness::Command),
        ("artifact:", Witness::Artifact),
    ] {
        if let Some(rest) = span.strip_prefix(prefix) {
            return Some(make(rest.trim().to_string()));
        }
    }
    if let Some((file, rest)) = span.split_once(".rs::") {
        let path: Vec<String> = rest.split("::").map(str::to_string).collect();
        return path
            .iter()
            .all(|p| is_ident(p))
            .then(|| Witness::TestInFile {
                file: format!("{file}.rs"),
                path,
            });
    }
    let mut parts = span.split("::");
    let krate = parts.next()?;
    let path: Vec<String> = parts.map(str::to_string).collect();
    let known = crates.iter().any(|c| c == krate);
    (known && !path.is_empty() && path.iter().all(|p| is_ident(p))).then(|| Witness::TestPath {
        krate: krate.to_string(),
        path,
    })
}
