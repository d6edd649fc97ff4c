//! `harness claims --check`: every capability line of CLAIMS.md carries exactly one of
//! [SHIPPED], [SIMULATED], [STUB] and names at least one witness, and every witness it
//! names exists. The witnesses fak's `yes` cells in data/capabilities.json name are held
//! to the same rule.

mod index;
mod parse;
mod witness;

use std::path::Path;

use clap::CommandFactory;

pub use index::{Package, TestFn, Workspace};
pub use parse::{ClaimLine, TAGS, parse};
pub use witness::Witness;

use crate::capabilities::{CAPABILITIES_PATH, Capabilities};

/// The claims file's path inside the repository.
pub const CLAIMS_PATH: &str = "CLAIMS.md";

/// Programs a `command:` witness may start with that run a repository script.
const INTERPRETERS: [&str; 4] = ["python3", "python", "bash", "sh"];

#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: cannot parse as Rust: {problem}")]
    Parse { file: String, problem: String },
    #[error("cargo metadata: {0}")]
    Metadata(String),
    #[error(transparent)]
    Capabilities(#[from] crate::capabilities::CapabilitiesError),
}

/// One thing wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `CLAIMS.md:12` or `data/capabilities.json: fak, gate_tool_call`.
    pub place: String,
    pub message: String,
}

/// What the check looked at and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub lines: usize,
    pub witnesses: usize,
    pub problems: Vec<Problem>,
}

/// Checks CLAIMS.md (and the capability file's witnesses, when it exists) of the
/// repository at `root`.
pub fn check(root: &Path) -> Result<Report, ClaimsError> {
    let claims_file = root.join(CLAIMS_PATH);
    let text = std::fs::read_to_string(&claims_file).map_err(|source| ClaimsError::Read {
        file: claims_file.display().to_string(),
        source,
    })?;
    let workspace = Workspace::scan(root)?;
    let mut report = check_text(&text, &workspace);
    let caps_file = root.join(CAPABILITIES_PATH);
    if caps_file.exists() {
        let caps = Capabilities::load(&caps_file)?;
        for (capability, span) in caps.witnesses() {
            report.witnesses += 1;
            let place = format!("{CAPABILITIES_PATH}: {capability}");
            match witness::parse(span, false, &crate_names(&workspace)) {
                None => report.problems.push(Problem {
                    place,
                    message: format!("`{span}` is not a witness (see CLAIMS.md's syntax)"),
                }),
                Some(w) => {
                    if let Err(message) = resolve(&w, &workspace) {
                        report.problems.push(Problem { place, message });
                    }
                }
            }
        }
    }
    Ok(report)
}

fn crate_names(workspace: &Workspace) -> Vec<String> {
    workspace
        .packages
        .iter()
        .flat_map(|p| {
            [
                Some(p.name.clone()),
                Some(p.name.replace('-', "_")),
                p.lib_name.clone(),
            ]
        })
        .flatten()
        .collect()
}

/// Checks a CLAIMS.md text against a scanned workspace.
pub fn check_text(text: &str, workspace: &Workspace) -> Report {
    let crates = crate_names(workspace);
    let lines = parse(text);
    let mut report = Report {
        lines: lines.len(),
        witnesses: 0,
        problems: Vec::new(),
    };
    for claim in &lines {
        let place = format!("{CLAIMS_PATH}:{}", claim.line);
        let mut problem = |message: String| {
            report.problems.push(Problem {
                place: place.clone(),
                message,
            })
        };
        let tags = claim.tags();
        match tags.len() {
            1 => {}
            0 => problem(format!("carries none of {}", TAGS.join(", "))),
            _ => problem(format!(
                "carries {} tags ({}); exactly one allowed",
                tags.len(),
                tags.join(", ")
            )),
        }
        let witnesses: Vec<Witness> = claim
            .code_spans()
            .into_iter()
            .filter_map(|(after_command_word, span)| {
                witness::parse(span, after_command_word, &crates)
            })
            .collect();
        if witnesses.is_empty() {
            problem("names no witness (a test path, `tests/file.rs::name`, `bench: ...`, `command: ...` or `artifact: ...`)".to_string());
        }
        for w in &witnesses {
            if let Err(message) = resolve(w, workspace) {
                problem(message);
            }
        }
        report.witnesses += witnesses.len();
    }
    report
}

/// Whether a witness names something that exists.
pub fn resolve(w: &Witness, ws: &Workspace) -> Result<(), String> {
    match w {
        Witness::TestPath { krate, path } => {
            let found = ws.packages.iter().filter(|p| p.is_named(krate)).any(|p| {
                p.tests.iter().any(|t| {
                    t.module
                        .as_ref()
                        .is_some_and(|m| m.iter().chain(&t.in_file).eq(path.iter()))
                })
            });
            found
                .then_some(())
                .ok_or_else(|| format!("no test {w} in the workspace"))
        }
        Witness::TestInFile { file, path } => {
            let candidates: Vec<String> = std::iter::once(file.clone())
                .chain(ws.packages.iter().map(|p| format!("{}/{file}", p.dir)))
                .filter(|f| ws.root.join(f).is_file())
                .collect();
            match candidates.as_slice() {
                [] => Err(format!("{w}: no file {file} in the workspace")),
                [one] => ws
                    .packages
                    .iter()
                    .flat_map(|p| &p.tests)
                    .any(|t| &t.file == one && &t.in_file == path)
                    .then_some(())
                    .ok_or_else(|| format!("no test {w} in {one}")),
                many => Err(format!("{w}: {file} is ambiguous ({})", many.join(", "))),
            }
        }
        Witness::Bench(name) => ws
            .packages
            .iter()
            .any(|p| p.benches.iter().any(|b| b == name))
            .then_some(())
            .ok_or_else(|| format!("no bench target {w} in the workspace")),
        Witness::Artifact(path) => ws
            .root
            .join(path)
            .exists()
            .then_some(())
            .ok_or_else(|| format!("{w}: no such file or directory")),
        Witness::Command(cmd) => resolve_command(cmd, ws).map_err(|m| format!("{w}: {m}")),
    }
}

fn resolve_command(cmd: &str, ws: &Workspace) -> Result<(), String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let Some((&program, args)) = words.split_first() else {
        return Err("empty command".to_string());
    };
    if program == "cargo" {
        return resolve_cargo(args, ws);
    }
    if INTERPRETERS.contains(&program) {
        return match args.first() {
            Some(script) if ws.root.join(script).is_file() => Ok(()),
            Some(script) => Err(format!("no script {script} in the repository")),
            None => Err(format!("{program} runs no script")),
        };
    }
    if program == "harness" {
        return harness_subcommand(args);
    }
    if ws
        .packages
        .iter()
        .any(|p| p.bins.iter().any(|b| b == program))
        || ws.root.join(program).is_file()
    {
        return Ok(());
    }
    Err(format!(
        "`{program}` is not a workspace binary, cargo, or a script in the repository"
    ))
}

/// Reads one kind of target list off a package.
type TargetList = fn(&Package) -> &[String];

/// A cargo command's `-p` package must exist, and each `--bench` / `--test` / `--bin`
/// target it names must exist in that package (or anywhere, without `-p`).
fn resolve_cargo(args: &[&str], ws: &Workspace) -> Result<(), String> {
    let value_of = |flags: &[&str]| -> Vec<&str> {
        args.windows(2)
            .filter(|w| flags.contains(&w[0]))
            .map(|w| w[1])
            .collect()
    };
    let packages: Vec<&Package> = match value_of(&["-p", "--package"]).as_slice() {
        [] => ws.packages.iter().collect(),
        names => {
            let mut found = Vec::new();
            for name in names {
                let p = ws
                    .packages
                    .iter()
                    .find(|p| p.name == *name)
                    .ok_or_else(|| format!("no package {name} in the workspace"))?;
                found.push(p);
            }
            found
        }
    };
    let kinds: [(&str, &str, TargetList); 3] = [
        ("--bench", "bench", |p| &p.benches),
        ("--test", "test", |p| &p.test_targets),
        ("--bin", "bin", |p| &p.bins),
    ];
    for (flag, kind, targets) in kinds {
        for name in value_of(&[flag]) {
            if !packages
                .iter()
                .any(|p| targets(p).iter().any(|t| t == name))
            {
                return Err(format!("no {kind} target {name}"));
            }
        }
    }
    Ok(())
}

/// `harness` commands are checked down to the subcommand, against its own clap tree.
fn harness_subcommand(args: &[&str]) -> Result<(), String> {
    let mut command = crate::cli::Cli::command();
    for word in args {
        if word.starts_with('-') || !command.has_subcommands() {
            break;
        }
        command = command
            .find_subcommand(word)
            .cloned()
            .ok_or_else(|| format!("harness has no subcommand {word}"))?;
    }
    Ok(())
}
