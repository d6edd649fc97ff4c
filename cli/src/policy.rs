//! `fak policy dump` and `fak policy check F`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use fak_kernel::Policy;
use fak_kernel::policy::DEFAULT_POLICY_JSON;

use crate::exit::{self, Status};

/// Inspect policies.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the built-in starter policy (used when no --policy is given); README's
    /// "Policy fields" section says what each field does.
    #[command(after_help = exit::HELP)]
    Dump,
    /// Load a policy strictly and report what it holds, or the first error.
    #[command(after_help = exit::HELP)]
    Check {
        /// The policy file.
        file: PathBuf,
        /// Directory relative globs are resolved against (default: the current one).
        #[arg(long)]
        base_dir: Option<PathBuf>,
    },
}

pub fn run(cmd: Command) -> Result<Status> {
    match cmd {
        Command::Dump => {
            print!("{DEFAULT_POLICY_JSON}");
            Ok(Status::Ok)
        }
        Command::Check { file, base_dir } => {
            let policy = load(Some(&file), base_dir)?;
            println!("ok: {}: {}", file.display(), policy.summary());
            Ok(Status::Ok)
        }
    }
}

/// The policy named on the command line, or the built-in default.
pub fn load(file: Option<&PathBuf>, base_dir: Option<PathBuf>) -> Result<Policy> {
    let base = match base_dir {
        Some(b) => b,
        None => std::env::current_dir()?,
    };
    Ok(match file {
        Some(f) => Policy::load(f, &base)?,
        None => Policy::builtin_default(&base),
    })
}
