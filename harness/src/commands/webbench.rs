//! `harness webbench describe`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use fak_harness::cli::{DescribeArgs, Mode, WebbenchCommand};
use fak_harness::webbench::measured::{AttentionShape, MeasuredInputs, TokenCounter};
use fak_harness::webbench::trajectory::load_trajectories;
use fak_harness::webbench::{Origin, WebbenchError, compat, measured, render, tasks, to_entries};
use sha2::{Digest, Sha256};

use crate::Outcome;

pub fn run(command: &WebbenchCommand) -> Result<Outcome> {
    match command {
        WebbenchCommand::Describe(args) => describe(args),
    }
}

fn describe(args: &DescribeArgs) -> Result<Outcome> {
    let tasks = tasks::load_tasks(&args.tasks)?;
    let mut artifacts = vec![digest_line(&args.tasks)?];
    let report = match args.mode {
        Mode::Compat => compat::describe(&tasks, &args.workers)?,
        Mode::Measured => {
            let tokenizer = args
                .tokenizer
                .as_ref()
                .ok_or(WebbenchError::MeasuredNeeds("tokenizer"))?;
            let dir = args
                .trajectories
                .as_ref()
                .ok_or(WebbenchError::MeasuredNeeds("trajectories"))?;
            let config = args
                .config
                .clone()
                .unwrap_or_else(|| beside(tokenizer, "config.json"));
            let trajectories = load_trajectories(dir)?;
            let tokens = TokenCounter::load(tokenizer)?;
            let shape = AttentionShape::from_config(&config)?;
            artifacts.push(digest_line(tokenizer)?);
            artifacts.push(format!("{} ({} runs)", dir.display(), trajectories.len()));
            measured::describe(&MeasuredInputs {
                tasks: &tasks,
                trajectories: &trajectories,
                tokens: &tokens,
                shape: &shape,
                workers: &args.workers,
            })?
        }
    };
    print!("{}", render(&report));
    if let Some(out) = &args.json {
        let origin = Origin {
            command: command_line(args),
            artifact: artifacts.join("; "),
        };
        let entries = to_entries(&report, &origin);
        let text = serde_json::to_string_pretty(&serde_json::json!({ "entries": entries }))?;
        std::fs::write(out, text + "\n").with_context(|| format!("writing {}", out.display()))?;
        println!(
            "\nwrote {} ledger entries to {}",
            entries.len(),
            out.display()
        );
    }
    Ok(Outcome::Done)
}

fn beside(path: &Path, name: &str) -> PathBuf {
    path.parent().unwrap_or(Path::new(".")).join(name)
}

/// "path (sha256 0123456789abcdef)": which bytes a number was computed from.
fn digest_line(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let digest = hex::encode(Sha256::digest(&bytes));
    Ok(format!("{} (sha256 {})", path.display(), &digest[..16]))
}

/// The command that reproduces this run, as the ledger records it.
fn command_line(args: &DescribeArgs) -> String {
    let workers: Vec<String> = args.workers.iter().map(u64::to_string).collect();
    let mut line = format!(
        "cargo run -p fak-harness --release -- webbench describe --tasks {} --workers {}",
        args.tasks.display(),
        workers.join(",")
    );
    match args.mode {
        Mode::Compat => line.push_str(" --mode compat"),
        Mode::Measured => {
            line.push_str(" --mode measured");
            for (flag, value) in [
                ("--trajectories", &args.trajectories),
                ("--tokenizer", &args.tokenizer),
                ("--config", &args.config),
            ] {
                if let Some(v) = value {
                    line.push_str(&format!(" {flag} {}", v.display()));
                }
            }
        }
    }
    line
}
