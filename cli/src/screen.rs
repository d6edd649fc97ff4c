//! `fak screen`: admission alone, on one tool result.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;
use fak_kernel::{Kernel, ModelView, Trust};
use serde_json::json;

use crate::exit::{self, Status};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Source {
    Trusted,
    Untrusted,
}

/// Screen one tool result as admission would, and print the verdict as JSON.
#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["result_file", "stdin"])))]
pub struct Args {
    /// The tool that produced the result.
    #[arg(long)]
    tool: String,
    /// Whether the result's source is trusted.
    #[arg(long, value_enum, default_value = "untrusted")]
    source: Source,
    /// File holding the result (`-` reads standard input).
    #[arg(long)]
    result_file: Option<PathBuf>,
    /// `-`: read the result from standard input.
    #[arg(value_parser = ["-"])]
    stdin: Option<String>,
    /// Policy whose `admission` bounds apply (default: the built-in starter policy).
    #[arg(long)]
    policy: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<Status> {
    let text = match &args.result_file {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read result file {}", path.display()))?,
        _ => {
            let mut buf = String::new();
            std::io::stdin()
                .read_to_string(&mut buf)
                .context("cannot read the result from standard input")?;
            buf
        }
    };
    let policy = crate::policy::load(args.policy.as_ref(), None)?;
    let kernel = Kernel::builder(policy).build();
    let trust = match args.source {
        Source::Trusted => Trust::Trusted,
        Source::Untrusted => Trust::Untrusted,
    };
    let admission = kernel.admit("screen", &args.tool, Some(trust), &text);
    // The result itself is not echoed: only what the detectors found and, for a stub or a
    // page, what the model would read instead.
    let replacement = match &admission.view {
        ModelView::Text { .. } => None,
        other => Some(other.to_model_text()),
    };
    println!(
        "{}",
        json!({
            "tool": admission.tool,
            "trust": admission.trust,
            "screening": admission.screening,
            "model_sees": replacement,
        })
    );
    Ok(if admission.is_quarantined() {
        Status::Refused
    } else {
        Status::Ok
    })
}
