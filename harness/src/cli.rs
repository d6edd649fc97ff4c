//! The `harness` command line: argument types only. The binary dispatches each
//! subcommand to the module that does the work; `claims --check` reads this tree to check
//! that a `command: harness ...` witness names a real subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fak_backends::BackendKind;

#[derive(Debug, Parser)]
#[command(
    name = "harness",
    about = "fak's research harness: the ledger, figures, authority, claims, webbench and parity gates",
    after_help = "Exit status: 0 done; 1 a check found drift, a bad claim or a failing gate; 2 the command could not run (bad input, unreadable file)."
)]
pub struct Cli {
    /// The repository root (where data/ledger.json, CLAIMS.md and figures/ live).
    #[arg(long, global = true, default_value = ".")]
    pub root: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read or write data/ledger.json.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// The WebVoyager turn-tax geometry.
    #[command(subcommand)]
    Webbench(WebbenchCommand),
    /// Draw figures/ from the ledger (SVG and PNG).
    Figures(CheckArgs),
    /// Write BENCHMARK-AUTHORITY.md from the ledger.
    Authority(CheckArgs),
    /// Rewrite README.md's generated tables (between <!-- ledger:NAME --> markers) from
    /// the ledger.
    Readme(CheckArgs),
    /// Check CLAIMS.md: one tag a capability line, every witness exists.
    Claims(ClaimsArgs),
    /// The turn-tax geometry run live: naive re-prefill, private KV per agent and shared
    /// prefix on the in-kernel model (CPU), prefill work measured against the geometry's
    /// prediction, and the same final logits checked in every policy.
    Fleet(FleetArgs),
    /// Excision cost against span position on the in-kernel model (CPU): positions
    /// recomputed and median time against a cold re-prefill, each excision checked exact.
    Excise(ExciseArgs),
    /// The medians a `cargo bench` run left under target/criterion, as ledger entries.
    Criterion(CriterionArgs),
    /// Prefill and decode tokens/s of fak (CPU) against peers on one checkpoint, side by
    /// side in one run, with the machine's read bandwidth and decode's roofline.
    Throughput(ThroughputArgs),
    /// fak's side of the throughput protocol (what `harness throughput` runs for fak):
    /// prefill the prompt, decode greedily, print one JSON report.
    Engine(EngineArgs),
    /// Run every parity gate (ops, KV edits, whole models) on every backend and print
    /// max|Δ| with PASS/FAIL per gate. Exit 1 when a gate fails.
    Verify(VerifyArgs),
    /// The fused agent's late revocation (`fak agent --offline --fused --revoke`) over a
    /// few runs: the excision against the cold rebuild that verifies it.
    Fused(FusedArgs),
    /// The in-kernel `fak serve` demo (gateway/examples/in_kernel_demo.sh) over a few runs:
    /// each request's usage and wall time.
    ServeDemo(ServeDemoArgs),
    /// The gateway's proxy bench (bench/gateway/run.sh, wrk on loopback): latency added by
    /// `fak serve`, requests/s, errors and the server's resident set.
    Gateway(GatewayArgs),
    /// Every fuzz target for a bounded time (fuzz/run.sh, cargo-fuzz): the inputs each ran,
    /// from libFuzzer's last line. Publishes nothing when a target crashed.
    Fuzz(FuzzArgs),
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// List every entry: id, value, unit, provenance.
    List,
    /// Print one entry as JSON.
    Show { id: String },
    /// Add the entries of a measurement file; refuses an id already in the ledger.
    Add(LedgerWriteArgs),
    /// Replace entries from a measurement file; refuses an id not in the ledger.
    Update(LedgerWriteArgs),
    /// Replace whole studies (a rerun sweep such as `verify --ledger`): the file's entries
    /// are added or replaced, and every other entry of a study the file names is removed.
    Replace(LedgerWriteArgs),
}

#[derive(Debug, Args)]
pub struct LedgerWriteArgs {
    /// A measurement file: {"entries": [...]}, entries without date and commit.
    #[arg(long = "from", value_name = "FILE.json")]
    pub from: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Regenerate into a temporary place and fail when the committed output differs.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct ClaimsArgs {
    /// Check CLAIMS.md (the only mode: the file is written by people).
    #[arg(long, required = true)]
    pub check: bool,
}

#[derive(Debug, Subcommand)]
pub enum WebbenchCommand {
    /// Prefill work of the three policies (naive re-prefill, private KV per agent, shared
    /// prefix) over the WebVoyager tasks.
    Describe(DescribeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// The published turn-tax geometry, reproduced exactly.
    Compat,
    /// Per-turn sizes from recorded trajectories, tokenized.
    Measured,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The task file (WebVoyager_data.jsonl).
    #[arg(long, value_name = "FILE")]
    pub tasks: PathBuf,
    /// Fleet sizes: how many agents run each task.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub workers: Vec<u64>,
    /// Directory of recorded trajectories (task<ID>.json); measured mode.
    #[arg(long, value_name = "DIR")]
    pub trajectories: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "compat")]
    pub mode: Mode,
    /// A tokenizer.json; measured mode.
    #[arg(long, value_name = "PATH")]
    pub tokenizer: Option<PathBuf>,
    /// A model config.json whose shape prices the attention FLOP term; measured mode.
    /// Defaults to the config.json beside the tokenizer.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Write the results as a measurement file for `harness ledger add/update --from`.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Fleet sizes to run.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub agents: Vec<usize>,
    /// Prefix tokens P, shared by every agent. P + h(T - 1) must fit the model's context
    /// (2048 positions for the default fixture).
    #[arg(long, default_value_t = 1024)]
    pub prefix: usize,
    /// Turns T per agent (turn 1 prefills the prefix).
    #[arg(long, default_value_t = 16)]
    pub turns: usize,
    /// History tokens h each later turn adds.
    #[arg(long, default_value_t = 64)]
    pub history: usize,
    /// The model directory (default: the committed llama3 fixture under --root).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Write the results as ledger entries (MEASURED), for `harness ledger add --from`.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A backend to verify (cpu, vulkan, metal, cuda), repeatable or comma-separated; a
    /// named backend that is missing fails. Default: every backend, skipping the ones this
    /// build or machine lacks. The CPU, the reference, always runs. With
    /// FAK_REQUIRE_VULKAN set, Vulkan is required as if named.
    #[arg(long = "backend", value_name = "B", value_delimiter = ',')]
    pub backends: Vec<BackendKind>,
    /// Also write the rows as JSON.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
    /// Write every gate that ran as a ledger entry (MEASURED, study `parity`), for
    /// `harness ledger add --from`; the parity table figure is drawn from them.
    #[arg(long, value_name = "OUT")]
    pub ledger: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExciseArgs {
    /// Session length L in tokens (must fit the model's context).
    #[arg(long, default_value_t = 1024)]
    pub length: usize,
    /// Tokens in the excised span.
    #[arg(long, default_value_t = 64)]
    pub span: usize,
    /// Span start positions to sweep.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,128,256,384,512,640,768,896"
    )]
    pub positions: Vec<usize>,
    /// Runs per position and arm; the median time is kept.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// The model directory (default: the committed llama3 fixture under --root).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Write the results as ledger entries (MEASURED), for `harness ledger add --from`.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CriterionArgs {
    /// Criterion benchmark groups to read (the first path component under the directory).
    #[arg(long = "group", value_delimiter = ',', required = true)]
    pub groups: Vec<String>,
    /// The bench command that produced them, recorded as each entry's command.
    #[arg(long)]
    pub command: String,
    /// A function id whose results are the baseline of the others with the same
    /// parameter (e.g. `cpu`).
    #[arg(long)]
    pub baseline_function: Option<String>,
    /// Criterion's output directory (default: target/criterion under --root).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The conditions of the run (e.g. "shared 2-core machine, load average 3"), appended
    /// to each entry's method: criterion's files do not record them.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Where to write the entries, for `harness ledger add --from`.
    #[arg(long, value_name = "OUT")]
    pub json: PathBuf,
}

#[derive(Debug, Args)]
pub struct ThroughputArgs {
    /// The model every engine runs: a directory (the Qwen2.5-0.5B-shaped benchmark
    /// checkpoint that `scripts/make_test_models.py --qwen05b-bench DIR` makes) or a GGUF
    /// file (Gemma 3 270M).
    #[arg(long, value_name = "DIR|FILE.gguf")]
    pub model: PathBuf,
    /// The peer every ratio is taken against.
    #[arg(long, value_name = "NAME", default_value = "llama.cpp bf16")]
    pub baseline: String,
    /// Names this run in the ledger when it is not the default benchmark checkpoint: entry
    /// ids `throughput.NAME.PHASE.ENGINE`, studies `PHASE_throughput.NAME`.
    #[arg(long, value_name = "NAME")]
    pub study: Option<String>,
    /// A peer engine, repeatable: `NAME=PROGRAM ARGS...` (bench/peers/setup.sh prints the
    /// commands for llama.cpp, candle and transformers). fak always runs.
    #[arg(long = "peer", value_name = "NAME=COMMAND")]
    pub peers: Vec<String>,
    /// Prompt tokens, prefilled in one call.
    #[arg(long, default_value_t = 512)]
    pub prompt: usize,
    /// Tokens decoded after the prompt, one call each.
    #[arg(long, default_value_t = 128)]
    pub decode: usize,
    /// CPU threads every engine is given.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Where fak's forward pass runs (cpu, vulkan, metal, cuda; device 0). Off the CPU,
    /// the machine's read bandwidth says nothing of decode's bound, so no roofline is drawn.
    #[arg(long, value_name = "B", default_value = "cpu")]
    pub backend: BackendKind,
    /// Rounds: each engine runs once per round, round-robin; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// The conditions of the run (e.g. the GPU's name and driver), appended to each
    /// entry's method.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Write the results as ledger entries, for `harness ledger add/update --from`.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// A JSON array of prompt token ids.
    #[arg(long, value_name = "FILE")]
    pub tokens: PathBuf,
    #[arg(long)]
    pub decode: usize,
    #[arg(long)]
    pub threads: usize,
    /// Where the forward pass runs (cpu, vulkan, metal, cuda; device 0).
    #[arg(long, value_name = "B", default_value = "cpu")]
    pub backend: BackendKind,
}

#[derive(Debug, Args)]
pub struct FusedArgs {
    /// The fak binary (default: target/release/fak under --root; `cargo build --release -p
    /// fak` builds it).
    #[arg(long, value_name = "PATH")]
    pub fak: Option<PathBuf>,
    /// The offline task whose transcript is fed.
    #[arg(long, default_value = "booking-evasive")]
    pub task: String,
    /// The tool whose first admitted result is revoked.
    #[arg(long, default_value = "fetch_policy")]
    pub revoke: String,
    /// Runs; the median time is published, with the range.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Write the results as ledger entries (MEASURED), for `harness ledger add --from`.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeDemoArgs {
    /// The fak binary the demo serves with (default: target/release/fak under --root).
    #[arg(long, value_name = "PATH")]
    pub fak: Option<PathBuf>,
    /// Runs of the whole demo (a fresh server each); the median time a request is
    /// published, with the range.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Write the results as ledger entries (MEASURED), for `harness ledger add --from`.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Seconds of the soak at 64 connections that the resident set is read around.
    #[arg(long, default_value_t = 60)]
    pub soak: u64,
    /// The cargo profile the script builds fak and the mock upstream with (release, or
    /// test to reuse what `cargo test` built).
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Write the results as ledger entries (MEASURED), for `harness ledger add --from`.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Seconds each target runs (libFuzzer's -max_total_time; fuzz/run.sh's default is 60).
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// The conditions of the run (e.g. why it is shorter than run.sh's default), appended
    /// to each entry's method.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Write the results as ledger entries (MEASURED), for `harness ledger add --from`.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}
