//! `fak serve`: the OpenAI- and Anthropic-compatible gateway, over an upstream (proxy
//! mode) or over a model it runs itself (in-kernel mode).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use fak_backends::Backend;
use fak_gateway::config::{
    DEFAULT_ADDR, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_TRACES,
    DEFAULT_TRACE_IDLE_S, DEFAULT_UPSTREAM_TIMEOUT_S,
};
use fak_gateway::{
    ApiKey, Config, InKernelOptions, InKernelSource, Limits, ModelSource, ProxySource,
};
use fak_kernel::{Journal, Kernel};

use crate::exit::Status;
use crate::on_backend::{OnBackend, on_backend};

/// Serve the OpenAI wire (POST /v1/chat/completions, GET /v1/models) and the Anthropic
/// Messages wire (POST /v1/messages) with the kernel in between: every tool call the model
/// proposes is decided before the client sees it, and every tool result in a request is
/// screened before the model sees it. Also GET /healthz, /readyz and /metrics.
///
/// Proxy mode (--base-url): requests go to an OpenAI-compatible upstream (vLLM, SGLang,
/// Ollama, llama.cpp's server). In-kernel mode (no --base-url): fak runs the model in
/// --model-dir itself, its KV cache one kernel object shared by every request, so a prompt
/// that begins like an earlier one reuses that prefix instead of computing it; without
/// --model-dir it serves the committed qwen3 test model (random weights: its text is
/// gibberish, and it says so). Stops on SIGTERM or Ctrl-C after finishing the requests in
/// flight.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status:
  0  stopped by SIGTERM or Ctrl-C after finishing the requests in flight
  2  could not start: bad flag, a key variable unset or empty, a policy or journal that \
does not load, a model directory that cannot be served, an address that cannot be bound")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Base URL of the OpenAI-compatible upstream, as an OpenAI client would be given it
    /// (usually ending in /v1) [default: none: in-kernel mode, fak runs the model itself].
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Proxy mode: the model sent upstream for every request, whatever model the client
    /// names. In-kernel mode: the name clients use for the served model
    /// [default: proxy, the client's model name is forwarded; in-kernel, the model
    /// directory's name].
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// In-kernel mode: the model to serve: a directory (config.json, safetensors weights,
    /// tokenizer.json, tokenizer_config.json with a chat template, generation_config.json)
    /// or a GGUF file (Gemma 3; give --context, its own is 32768 positions)
    /// [default: the committed test model data/fixtures/models/qwen3, random weights].
    #[arg(long, value_name = "DIR|FILE.gguf", conflicts_with = "base_url")]
    model_dir: Option<PathBuf>,
    /// In-kernel mode: where the forward pass runs: cpu, or vulkan, metal or cuda where this
    /// fak was built with that feature (device 0).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "cpu",
        conflicts_with = "base_url"
    )]
    backend: String,
    /// In-kernel mode: positions one conversation may hold, prompt and answer together
    /// [default: the model's own context].
    #[arg(long, value_name = "TOKENS", conflicts_with = "base_url")]
    context: Option<usize>,
    /// In-kernel mode: MiB of K and V the KV block pool holds, allocated at start-up (at
    /// least one full context; the rest keeps earlier prefixes for reuse)
    /// [default: 8 full contexts, at most 512 MiB].
    #[arg(long, value_name = "MIB", conflicts_with = "base_url")]
    kv_budget_mib: Option<usize>,
    /// Policy file [default: none: the built-in starter policy, see `fak policy dump`].
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Environment variable holding the key clients must present (Authorization: Bearer or
    /// x-api-key); serve refuses to start if it is unset or empty
    /// [default: none: the API is open, for loopback use].
    #[arg(long, value_name = "NAME")]
    require_key_env: Option<String>,
    /// Proxy mode: environment variable holding the key sent to the upstream; the client's
    /// key is never forwarded [default: none: no key is sent upstream].
    #[arg(long, value_name = "NAME", requires = "base_url")]
    upstream_key_env: Option<String>,
    /// Hash-chained audit journal of every decision and admission (`fak audit verify`
    /// checks it) [default: none: only the chain's head is kept, in memory].
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Requests in flight at once on the /v1 routes (in-kernel mode: answering or waiting
    /// for the model); beyond it 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONCURRENT)]
    max_concurrent: usize,
    /// Proxy mode: seconds to wait for the upstream's next bytes (headers, body, or next
    /// stream chunk) before answering 504.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_UPSTREAM_TIMEOUT_S)]
    upstream_timeout_s: u64,
    /// Conversations whose taint is tracked at once; a new one beyond it gets 503.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TRACES)]
    max_traces: usize,
    /// Seconds a conversation may stay idle before its taint is forgotten.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TRACE_IDLE_S)]
    trace_idle_s: u64,
}

/// The committed test model served when no --model-dir is given (resolved, so the
/// start-up line names it plainly).
fn test_model_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/models/qwen3");
    dir.canonicalize().unwrap_or(dir)
}

/// Reads one key variable: absent flag, no key; named but unset or empty, an error.
fn key(
    name: Option<&str>,
    flag: &'static str,
    env: &impl Fn(&str) -> Result<String, std::env::VarError>,
) -> Result<Option<ApiKey>> {
    name.map(|n| ApiKey::from_var(n, flag, env(n)))
        .transpose()
        .map_err(anyhow::Error::from)
}

/// The gateway's settings from the flags and the environment `env`.
fn settings(
    args: &Args,
    env: &impl Fn(&str) -> Result<String, std::env::VarError>,
) -> Result<Config> {
    Ok(Config {
        addr: args.addr,
        require_key: key(args.require_key_env.as_deref(), "--require-key-env", env)?,
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_concurrent: args.max_concurrent,
            max_traces: args.max_traces,
            trace_idle: Duration::from_secs(args.trace_idle_s),
        },
    })
}

/// The upstream of proxy mode.
fn proxy(
    args: &Args,
    base_url: &str,
    env: &impl Fn(&str) -> Result<String, std::env::VarError>,
) -> Result<ProxySource> {
    let upstream_key = key(args.upstream_key_env.as_deref(), "--upstream-key-env", env)?;
    Ok(ProxySource::new(
        base_url,
        upstream_key,
        Duration::from_secs(args.upstream_timeout_s),
    )?
    .with_model(args.model.clone()))
}

/// What in-kernel mode serves.
fn in_kernel_options(args: &Args) -> Result<InKernelOptions> {
    let kv_budget_bytes = args
        .kv_budget_mib
        .map(|mib| {
            mib.checked_mul(1 << 20)
                .context("--kv-budget-mib is too large for this machine's address space")
        })
        .transpose()?;
    Ok(InKernelOptions {
        dir: args.model_dir.clone().unwrap_or_else(test_model_dir),
        name: args.model.clone(),
        context: args.context,
        kv_budget_bytes,
    })
}

/// Everything but the model source, built before the source is chosen.
struct Gateway {
    config: Config,
    kernel: Arc<Kernel>,
    policy_name: String,
}

impl Gateway {
    fn serve(self, source: Arc<dyn ModelSource>) -> Result<Status> {
        let describe = source.describe();
        let policy_name = self.policy_name;
        fak_gateway::run(&self.config, self.kernel, source, |addr| {
            eprintln!("fak serve: listening on http://{addr} (policy {policy_name})");
            eprintln!("fak serve: {describe}");
        })?;
        eprintln!("fak serve: stopped");
        Ok(Status::Ok)
    }
}

/// In-kernel mode, generic over the backend the model runs on.
struct InKernel {
    gateway: Gateway,
    options: InKernelOptions,
}

impl OnBackend for InKernel {
    fn run<B: Backend>(self, backend: Arc<B>) -> Result<Status> {
        let source = InKernelSource::open(backend, &self.options).context(
            "cannot serve a model in-kernel (give --model-dir DIR, or --base-url URL for proxy mode)",
        )?;
        self.gateway.serve(Arc::new(source))
    }
}

pub fn run(args: Args) -> Result<Status> {
    let env = |name: &str| std::env::var(name);
    let config = settings(&args, &env)?;
    let proxy = args
        .base_url
        .as_deref()
        .map(|url| proxy(&args, url, &env))
        .transpose()?;
    let policy = crate::policy::load(args.policy.as_ref(), None)?;
    let policy_name = policy.name().to_string();
    let mut builder = Kernel::builder(policy);
    if let Some(path) = &args.audit {
        let journal = Journal::open(path)
            .with_context(|| format!("cannot open the audit journal {}", path.display()))?;
        builder = builder.journal(journal);
    }
    let gateway = Gateway {
        config,
        kernel: Arc::new(builder.build()),
        policy_name,
    };
    match proxy {
        Some(source) => gateway.serve(Arc::new(source)),
        None => {
            let options = in_kernel_options(&args)?;
            on_backend(&args.backend, InKernel { gateway, options })
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args as _, Command};
    use fak_backends::CpuBackend;
    use fak_gateway::source::in_kernel::{DEFAULT_KV_BUDGET_CAP_MIB, DEFAULT_KV_CONTEXTS};

    use super::*;

    fn command() -> Command {
        Args::augment_args(Command::new("serve"))
    }

    fn parse(argv: &[&str]) -> Args {
        let matches = command().try_get_matches_from(argv).unwrap();
        <Args as clap::FromArgMatches>::from_arg_matches(&matches).unwrap()
    }

    const NO_ENV: fn(&str) -> Result<String, std::env::VarError> =
        |_| Err(std::env::VarError::NotPresent);

    #[test]
    fn help_lists_every_flag_with_its_default() {
        let help = command().render_long_help().to_string();
        for flag in [
            "--addr",
            "--base-url",
            "--model",
            "--model-dir",
            "--backend",
            "--context",
            "--kv-budget-mib",
            "--policy",
            "--require-key-env",
            "--upstream-key-env",
            "--audit",
            "--max-body-bytes",
            "--max-concurrent",
            "--upstream-timeout-s",
            "--max-traces",
            "--trace-idle-s",
        ] {
            let at = help
                .find(&format!("{flag} "))
                .unwrap_or_else(|| panic!("{flag} missing"));
            let section = &help[at..];
            let end = section[2..].find("\n  -").map_or(section.len(), |e| e + 2);
            assert!(
                section[..end].contains("default: "),
                "{flag} has no default in --help:\n{}",
                &section[..end]
            );
        }
        assert!(help.contains("[default: 127.0.0.1:8080]"));
        assert!(help.contains("data/fixtures/models/qwen3"));
        let kv_default = format!(
            "default: {DEFAULT_KV_CONTEXTS} full contexts, at most {DEFAULT_KV_BUDGET_CAP_MIB} MiB"
        );
        assert!(help.contains(&kv_default), "{kv_default}");
    }

    #[test]
    fn an_empty_or_unset_key_variable_refuses_to_start() {
        let args = parse(&[
            "serve",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--require-key-env",
            "FAK_KEY",
        ]);
        let empty = |_: &str| Ok(String::new());
        let err = settings(&args, &empty).unwrap_err().to_string();
        assert!(
            err.contains("FAK_KEY is empty") && err.contains("refusing"),
            "{err}"
        );
        assert!(
            settings(&args, &NO_ENV)
                .unwrap_err()
                .to_string()
                .contains("not set")
        );
        let set = |_: &str| Ok("k".to_string());
        let config = settings(&args, &set).unwrap();
        assert!(config.require_key.unwrap().matches(b"k"));
    }

    #[test]
    fn base_url_must_be_http() {
        let args = parse(&["serve", "--base-url", "file:///etc/passwd"]);
        let err = proxy(&args, "file:///etc/passwd", &NO_ENV).unwrap_err();
        assert!(err.to_string().contains("--base-url"), "{err}");
    }

    #[test]
    fn without_base_url_the_test_model_is_served_in_kernel() {
        let args = parse(&["serve"]);
        assert!(args.base_url.is_none());
        let options = in_kernel_options(&args).unwrap();
        assert_eq!(options.dir, test_model_dir());
        assert!(options.dir.join("config.json").is_file());
        assert_eq!(options.kv_budget_bytes, None);
        let sized = in_kernel_options(&parse(&["serve", "--kv-budget-mib", "4"])).unwrap();
        assert_eq!(sized.kv_budget_bytes, Some(4 << 20));
        // Flags of one mode are refused in the other.
        for argv in [
            &["serve", "--base-url", "http://x/v1", "--model-dir", "m"][..],
            &["serve", "--base-url", "http://x/v1", "--kv-budget-mib", "4"],
            &["serve", "--upstream-key-env", "K"],
        ] {
            assert!(command().try_get_matches_from(argv).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn a_model_dir_that_cannot_be_served_stops_start_up_naming_it() {
        let args = parse(&["serve", "--model-dir", "/nonexistent/qwen"]);
        let gateway = Gateway {
            config: settings(&args, &NO_ENV).unwrap(),
            kernel: Arc::new(Kernel::builder(crate::policy::load(None, None).unwrap()).build()),
            policy_name: String::new(),
        };
        let options = in_kernel_options(&args).unwrap();
        let err = InKernel { gateway, options }
            .run(Arc::new(CpuBackend::new()))
            .unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("--model-dir")
                && message.contains("/nonexistent/qwen")
                && message.contains("config.json"),
            "{message}"
        );
    }
}
