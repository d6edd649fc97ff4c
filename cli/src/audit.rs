//! `fak audit verify FILE`: check a journal's hash chain.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use fak_kernel::audit::{VerifyError, verify};

use crate::exit::{self, Status};

/// Work with audit journals.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify a journal's hash chain; name the first broken line.
    #[command(after_help = exit::HELP)]
    Verify {
        /// The journal (JSON lines).
        file: PathBuf,
        /// The head hash recorded elsewhere; catches lines cut off the end.
        #[arg(long)]
        head: Option<String>,
    },
}

pub fn run(cmd: Command) -> Result<Status> {
    let Command::Verify { file, head } = cmd;
    let f =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    match verify(BufReader::new(f), head.as_deref()) {
        Ok(summary) => {
            println!(
                "ok: {}: {} lines, head {}",
                file.display(),
                summary.lines,
                summary.head
            );
            Ok(Status::Ok)
        }
        Err(VerifyError::Io(e)) => {
            Err(e).with_context(|| format!("cannot read {}", file.display()))
        }
        Err(e) => {
            println!("broken: {}: {e}", file.display());
            Ok(Status::Refused)
        }
    }
}
