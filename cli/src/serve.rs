//! `fak serve`: the OpenAI- and Anthropic-compatible gateway, in proxy mode.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use fak_gateway::config::{
    DEFAULT_ADDR, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_TRACES,
    DEFAULT_TRACE_IDLE_S, DEFAULT_UPSTREAM_TIMEOUT_S,
};
use fak_gateway::{ApiKey, Config, Limits, ProxySource};
use fak_kernel::{Journal, Kernel};

use crate::exit::Status;

/// Serve the OpenAI wire (POST /v1/chat/completions, GET /v1/models) and the Anthropic
/// Messages wire (POST /v1/messages) with the kernel in between: every tool call the model
/// proposes is decided before the client sees it, and every tool result in a request is
/// screened before the model sees it. Also GET /healthz, /readyz and /metrics.
///
/// Proxy mode only: requests go to an OpenAI-compatible upstream (vLLM, SGLang, Ollama,
/// llama.cpp's server). Serving a model directory inside the kernel (--model-dir) is not
/// in this version. Stops on SIGTERM or Ctrl-C after finishing the requests in flight.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status:
  0  stopped by SIGTERM or Ctrl-C after finishing the requests in flight
  2  could not start: bad flag, a key variable unset or empty, a policy or journal that \
does not load, an address that cannot be bound")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Base URL of the OpenAI-compatible upstream, as an OpenAI client would be given it
    /// (usually ending in /v1). Required: in-kernel serving is not in this version.
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// Model sent upstream for every request, whatever model the client names
    /// [default: none: the client's model name is forwarded].
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// Policy file [default: none: the built-in starter policy, see `fak policy dump`].
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Environment variable holding the key clients must present (Authorization: Bearer or
    /// x-api-key); serve refuses to start if it is unset or empty
    /// [default: none: the API is open, for loopback use].
    #[arg(long, value_name = "NAME")]
    require_key_env: Option<String>,
    /// Environment variable holding the key sent to the upstream; the client's key is
    /// never forwarded [default: none: no key is sent upstream].
    #[arg(long, value_name = "NAME")]
    upstream_key_env: Option<String>,
    /// Hash-chained audit journal of every decision and admission (`fak audit verify`
    /// checks it) [default: none: only the chain's head is kept, in memory].
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Requests in flight at once on the /v1 routes; beyond it 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONCURRENT)]
    max_concurrent: usize,
    /// Seconds to wait for the upstream's next bytes (headers, body, or next stream
    /// chunk) before answering 504.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_UPSTREAM_TIMEOUT_S)]
    upstream_timeout_s: u64,
    /// Conversations whose taint is tracked at once; a new one beyond it gets 503.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TRACES)]
    max_traces: usize,
    /// Seconds a conversation may stay idle before its taint is forgotten.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TRACE_IDLE_S)]
    trace_idle_s: u64,
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
) -> Result<(Config, ProxySource)> {
    let require_key = key(args.require_key_env.as_deref(), "--require-key-env", env)?;
    let upstream_key = key(args.upstream_key_env.as_deref(), "--upstream-key-env", env)?;
    let source = ProxySource::new(
        &args.base_url,
        upstream_key,
        Duration::from_secs(args.upstream_timeout_s),
    )?
    .with_model(args.model.clone());
    let config = Config {
        addr: args.addr,
        require_key,
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_concurrent: args.max_concurrent,
            max_traces: args.max_traces,
            trace_idle: Duration::from_secs(args.trace_idle_s),
        },
    };
    Ok((config, source))
}

pub fn run(args: Args) -> Result<Status> {
    let (config, source) = settings(&args, &|name| std::env::var(name))?;
    let policy = crate::policy::load(args.policy.as_ref(), None)?;
    let policy_name = policy.name().to_string();
    let mut builder = Kernel::builder(policy);
    if let Some(path) = &args.audit {
        let journal = Journal::open(path)
            .with_context(|| format!("cannot open the audit journal {}", path.display()))?;
        builder = builder.journal(journal);
    }
    let source = Arc::new(source);
    let describe = fak_gateway::ModelSource::describe(source.as_ref());
    fak_gateway::run(&config, Arc::new(builder.build()), source, |addr| {
        eprintln!("fak serve: listening on http://{addr} ({describe}, policy {policy_name})");
    })?;
    eprintln!("fak serve: stopped");
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use clap::{Args as _, Command};

    use super::*;

    fn parse(argv: &[&str]) -> Args {
        let cmd = Args::augment_args(Command::new("serve"));
        let matches = cmd.try_get_matches_from(argv).unwrap();
        <Args as clap::FromArgMatches>::from_arg_matches(&matches).unwrap()
    }

    #[test]
    fn help_lists_every_flag_with_its_default() {
        let help = Args::augment_args(Command::new("serve"))
            .render_long_help()
            .to_string();
        for flag in [
            "--addr",
            "--base-url",
            "--model",
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
            let at = help.find(flag).unwrap_or_else(|| panic!("{flag} missing"));
            let section = &help[at..];
            let end = section[2..].find("\n  -").map_or(section.len(), |e| e + 2);
            let required = flag == "--base-url";
            assert!(
                required || section[..end].contains("default: "),
                "{flag} has no default in --help:\n{}",
                &section[..end]
            );
        }
        assert!(help.contains("[default: 127.0.0.1:8080]"));
        assert!(help.contains("--model-dir) is not"));
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
        let unset = |_: &str| Err(std::env::VarError::NotPresent);
        assert!(
            settings(&args, &unset)
                .unwrap_err()
                .to_string()
                .contains("not set")
        );
        let set = |_: &str| Ok("k".to_string());
        let (config, _) = settings(&args, &set).unwrap();
        assert!(config.require_key.unwrap().matches(b"k"));
    }

    #[test]
    fn base_url_must_be_http() {
        let args = parse(&["serve", "--base-url", "file:///etc/passwd"]);
        let env = |_: &str| Err(std::env::VarError::NotPresent);
        assert!(
            settings(&args, &env)
                .unwrap_err()
                .to_string()
                .contains("--base-url")
        );
    }
}
