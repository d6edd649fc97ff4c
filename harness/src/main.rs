//! `harness`: the research harness's command line. Each subcommand is a thin shell over
//! the fak-harness library.
//!
//! Exit status: 0 on success; 1 when a check (`--check`, `claims --check`, `verify`) finds
//! drift, a bad claim or a failing gate; 2 when the command could not run (bad input,
//! unreadable file).

mod commands;

use std::process::ExitCode;

use clap::Parser;
use fak_harness::cli::{Cli, Command};

/// What a subcommand concluded, when it ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    CheckFailed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Ledger(cmd) => commands::ledger::run(&cli.root, cmd),
        Command::Webbench(cmd) => commands::webbench::run(cmd),
        Command::Figures(args) => commands::figures::run(&cli.root, args),
        Command::Authority(args) => commands::authority::run(&cli.root, args),
        Command::Readme(args) => commands::readme::run(&cli.root, args),
        Command::Claims(_) => commands::claims::run(&cli.root),
        Command::Fleet(args) => commands::fleet::run(&cli.root, args),
        Command::Excise(args) => commands::excise::run(&cli.root, args),
        Command::Criterion(args) => commands::criterion::run(&cli.root, args),
        Command::Verify(args) => commands::verify::run(&cli.root, args),
        Command::Throughput(args) => commands::throughput::run(args),
        Command::Engine(args) => commands::throughput::engine(args),
        Command::Fused(args) => commands::fused::run(&cli.root, args),
        Command::ServeDemo(args) => commands::serve_demo::run(&cli.root, args),
        Command::Gateway(args) => commands::gateway::run(&cli.root, args),
        Command::Fuzz(args) => commands::fuzz::run(&cli.root, args),
    };
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
