//! The `fak` binary: parses the command line and hands each subcommand to its module.

mod agent;
mod agent_fused;
mod audit;
mod backends;
mod exit;
mod generate;
mod kv;
mod model_dir;
mod on_backend;
mod policy;
mod preflight;
mod refusal_codes;
mod screen;
mod serve;
mod turntax;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "fak",
    version,
    about = "The kernel between an AI agent and its tools."
)]
#[command(after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Agent(agent::Args),
    Preflight(preflight::Args),
    #[command(subcommand)]
    Policy(policy::Command),
    Screen(screen::Args),
    Serve(serve::Args),
    #[command(subcommand)]
    Audit(audit::Command),
    Turntax(turntax::Args),
    Backends(backends::Args),
    Generate(generate::Args),
    #[command(subcommand)]
    Kv(kv::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Agent(args) => agent::run(args),
        Command::Preflight(args) => preflight::run(args),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Screen(args) => screen::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Turntax(args) => turntax::run(args),
        Command::Backends(args) => backends::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Kv(cmd) => kv::run(cmd),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::Status::UsageOrFile.into()
        }
    }
}
