//! `fuzz/run.sh`: each cargo-fuzz target run for a bounded time. With FUZZ_RESULTS set the
//! script leaves the targets it runs (`targets`, one a line, in order), the toolchain
//! (`toolchain`) and one log a target (`TARGET.log`: the `cargo fuzz run` command line, then
//! everything cargo-fuzz and libFuzzer printed); this reads them. A run counts only when
//! libFuzzer ended it with its `Done N runs in S second(s)` line and reported no crash.

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum FuzzError {
    #[error("cannot read {path}: {message} (fuzz/run.sh writes it when FUZZ_RESULTS is set)")]
    Read { path: PathBuf, message: String },
    #[error("fuzz/run.sh listed no targets in {0}")]
    NoTargets(PathBuf),
    #[error("fuzz target {target} left no log: fuzz/run.sh stopped before it ran")]
    NotRun { target: String },
    #[error("fuzz target {target} crashed: {what}")]
    Crashed { target: String, what: String },
    #[error(
        "fuzz target {target}: libFuzzer's \"Done N runs in S second(s)\" line is missing from its log (cut short?)"
    )]
    NoDoneLine { target: String },
    #[error("fuzz target {target}: the log does not start with the `$ cargo fuzz run` line")]
    NoCommand { target: String },
}

/// One target's bounded run, as libFuzzer reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct FuzzRun {
    pub target: String,
    /// The `cargo fuzz run ...` command line run.sh ran, as it wrote it.
    pub command: String,
    /// Inputs executed.
    pub runs: u64,
    /// The run's length as libFuzzer counts it (whole seconds).
    pub elapsed_s: u64,
}

/// Every target's run, and the toolchain that built them.
#[derive(Debug, Clone, PartialEq)]
pub struct FuzzResults {
    pub runs: Vec<FuzzRun>,
    /// `cargo fuzz --version` and `rustc --version`, joined.
    pub toolchain: String,
}

/// What run.sh wrote before each target's log, so the entry records the flags it ran with.
const COMMAND_PREFIX: &str = "$ ";

/// Reads the results directory run.sh filled: every listed target must have a clean log.
pub fn read(dir: &Path) -> Result<FuzzResults, FuzzError> {
    let text = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| FuzzError::Read {
            path,
            message: e.to_string(),
        })
    };
    let toolchain = text("toolchain")?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let targets = text("targets")?;
    let targets: Vec<&str> = targets
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if targets.is_empty() {
        return Err(FuzzError::NoTargets(dir.join("targets")));
    }
    let mut runs = Vec::with_capacity(targets.len());
    for target in targets {
        let log = dir.join(format!("{target}.log"));
        if !log.exists() {
            return Err(FuzzError::NotRun {
                target: target.to_string(),
            });
        }
        runs.push(parse_log(target, &text(&format!("{target}.log"))?)?);
    }
    Ok(FuzzResults { runs, toolchain })
}

/// One target's log: a crash anywhere in it refuses the run, whatever else it says.
pub fn parse_log(target: &str, log: &str) -> Result<FuzzRun, FuzzError> {
    if let Some(what) = crash(log) {
        return Err(FuzzError::Crashed {
            target: target.to_string(),
            what,
        });
    }
    let command = log
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(COMMAND_PREFIX))
        .ok_or_else(|| FuzzError::NoCommand {
            target: target.to_string(),
        })?;
    // libFuzzer prints the line once, as it exits; the last one is this run's.
    let (runs, elapsed_s) =
        log.lines()
            .rev()
            .find_map(done_line)
            .ok_or_else(|| FuzzError::NoDoneLine {
                target: target.to_string(),
            })?;
    Ok(FuzzRun {
        target: target.to_string(),
        command: command.trim().to_string(),
        runs,
        elapsed_s,
    })
}

/// `Done 253001 runs in 61 second(s)` as (runs, seconds).
fn done_line(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("Done ")?;
    let (runs, rest) = rest.split_once(" runs in ")?;
    let seconds = rest.strip_suffix(" second(s)")?;
    Some((runs.parse().ok()?, seconds.parse().ok()?))
}

/// What a crashed run's log says about it: the panic, the sanitizer's or libFuzzer's error
/// (a deadly signal, a timeout, running out of memory) and the input it saved, joined; None
/// when the log shows none of them.
fn crash(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    let mut found = Vec::new();
    if let Some(i) = lines.iter().position(|l| l.contains(" panicked at ")) {
        // Rust writes the panic's message on the line after its location.
        let message = lines.get(i + 1).copied().unwrap_or_default();
        found.push(format!("{} {message}", lines[i]).trim().to_string());
    }
    if let Some(error) = lines.iter().find_map(|l| {
        let (_, after) = l.split_once("ERROR: ")?;
        (after.starts_with("libFuzzer:") || after.contains("Sanitizer:"))
            .then(|| format!("ERROR: {after}"))
    }) {
        found.push(error);
    }
    if let Some(saved) = lines.iter().find_map(|l| {
        l.split_once("Test unit written to ")
            .map(|(_, path)| format!("input saved to {path}"))
    }) {
        found.push(saved);
    }
    (!found.is_empty()).then(|| found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clean 2 s run of the admission target as run.sh logs it (cargo-fuzz 0.13.2): the
    /// compile lines and the middle of libFuzzer's progress lines cut.
    const CLEAN: &str = include_str!("testdata/fuzz_clean.log");
    /// A target that panicked (a throwaway target that panics on inputs starting with
    /// `fak`), as cargo-fuzz 0.13.2 printed it: the backtraces cut.
    const CRASHED: &str = include_str!("testdata/fuzz_crash.log");

    #[test]
    fn a_clean_log_gives_its_done_line_and_command() {
        let run = parse_log("admission", CLEAN).unwrap();
        assert_eq!(run.target, "admission");
        assert_eq!(run.runs, 3858);
        assert_eq!(run.elapsed_s, 3);
        assert!(
            run.command
                .starts_with("cargo fuzz run admission corpus/admission seeds/admission --"),
            "{}",
            run.command
        );
    }

    #[test]
    fn a_crash_is_refused_with_the_panic_and_the_saved_input() {
        let err = parse_log("admission", CRASHED).unwrap_err();
        let FuzzError::Crashed { target, what } = &err else {
            panic!("not a crash: {err}");
        };
        assert_eq!(target, "admission");
        assert!(what.contains("panicked at"), "{what}");
        assert!(what.contains("ERROR: libFuzzer: deadly signal"), "{what}");
        assert!(what.contains("input saved to"), "{what}");
        assert!(err.to_string().starts_with("fuzz target admission crashed"));
    }

    #[test]
    fn a_crash_wins_over_a_done_line_in_the_same_log() {
        let both = format!("{CRASHED}\nDone 10 runs in 1 second(s)\n");
        assert!(matches!(
            parse_log("admission", &both),
            Err(FuzzError::Crashed { .. })
        ));
    }

    #[test]
    fn a_log_cut_before_its_done_line_is_refused_naming_the_target() {
        let cut: String = CLEAN
            .lines()
            .filter(|l| !l.starts_with("Done "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            parse_log("repair_ladder", &cut),
            Err(FuzzError::NoDoneLine {
                target: "repair_ladder".to_string()
            })
        );
    }

    #[test]
    fn a_log_without_its_command_line_is_refused() {
        let headless = CLEAN.split_once('\n').unwrap().1;
        assert_eq!(
            parse_log("admission", headless),
            Err(FuzzError::NoCommand {
                target: "admission".to_string()
            })
        );
    }

    #[test]
    fn done_lines_parse_and_look_alikes_do_not() {
        assert_eq!(
            done_line("Done 253001 runs in 61 second(s)"),
            Some((253_001, 61))
        );
        assert_eq!(done_line("Done many runs in 61 second(s)"), None);
        assert_eq!(done_line("#253001\tDONE   cov: 1 ft: 2"), None);
        assert_eq!(done_line("Done 5 runs in 2 seconds"), None);
    }

    fn results_dir(targets: &str, logs: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("targets"), targets).unwrap();
        std::fs::write(
            dir.path().join("toolchain"),
            "cargo-fuzz 0.13.2\nrustc 1.95.0\n",
        )
        .unwrap();
        for (target, log) in logs {
            std::fs::write(dir.path().join(format!("{target}.log")), log).unwrap();
        }
        dir
    }

    #[test]
    fn a_results_directory_reads_every_target_in_order() {
        let dir = results_dir(
            "admission\npolicy_loader\n",
            &[("admission", CLEAN), ("policy_loader", CLEAN)],
        );
        let results = read(dir.path()).unwrap();
        assert_eq!(results.toolchain, "cargo-fuzz 0.13.2, rustc 1.95.0");
        let targets: Vec<&str> = results.runs.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["admission", "policy_loader"]);
    }

    #[test]
    fn a_listed_target_without_a_log_is_named() {
        let dir = results_dir("admission\nrepair_ladder\n", &[("admission", CLEAN)]);
        assert_eq!(
            read(dir.path()),
            Err(FuzzError::NotRun {
                target: "repair_ladder".to_string()
            })
        );
    }

    #[test]
    fn an_empty_target_list_is_refused() {
        let dir = results_dir("\n", &[]);
        assert!(matches!(read(dir.path()), Err(FuzzError::NoTargets(_))));
    }
}
