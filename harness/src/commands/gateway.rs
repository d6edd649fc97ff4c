//! `harness gateway`: bench/gateway/run.sh (wrk on loopback, the mock upstream straight and
//! through `fak serve`), its numbers read back as ledger entries.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use fak_harness::cli::GatewayArgs;
use fak_harness::demos::proxy::{ProxyBench, WrkRun, read};
use fak_harness::demos::stdout_of;
use fak_harness::ledger::{Baseline, Entry, Param};

use super::live::{Measured, write_entries};
use crate::Outcome;

pub const SCRIPT: &str = "bench/gateway/run.sh";

pub fn run(root: &Path, args: &GatewayArgs) -> Result<Outcome> {
    let results = tempfile::tempdir().context("cannot make a scratch directory")?;
    let stdout = stdout_of(
        Command::new("bash")
            .arg(root.join(SCRIPT))
            .arg(args.soak.to_string())
            .env("PROFILE", &args.profile)
            .env("RESULTS", results.path()),
    )?;
    print!("{stdout}");
    let bench = read(results.path())?;
    if let Some(out) = &args.json {
        write_entries(out, &to_entries(&bench, args))?;
    }
    Ok(Outcome::Done)
}

/// Latency and requests/s straight and through fak (fak's against the direct path as its
/// baseline), the latency fak adds at p50, and the resident set around the soak.
fn to_entries(b: &ProxyBench, args: &GatewayArgs) -> Vec<Entry> {
    let command = format!(
        "cargo run --release -p fak-harness -- gateway --soak {} --profile {}",
        args.soak, args.profile
    );
    let method = format!(
        "{SCRIPT}: wrk --latency on loopback, request bench/gateway/chat.lua (a transcript \
         with one tool result, a text answer), the mock upstream straight and through fak \
         serve in proxy mode, 10 s a run after a 2 s warm-up; servers built with the {} \
         profile; load average {} when the runs ended",
        args.profile, b.machine.load_average
    );
    let mut out = Vec::new();
    let mut push = |id: String, title: String, value: f64, unit: &str, baseline, extra| {
        let mut params = vec![("study", Param::Text("gateway.proxy".to_string()))];
        params.extend(extra);
        out.push(
            Measured {
                id,
                title,
                value,
                unit,
                baseline,
                method: &method,
                command: &command,
                params,
            }
            .entry(),
        );
    };
    type Metric = (&'static str, &'static str, &'static str, fn(&WrkRun) -> f64);
    let metrics: [(Metric, WrkRun, WrkRun, u64); 3] = [
        (
            ("p50", "latency p50, 1 connection", "µs", |r| r.p50_us),
            b.direct_1,
            b.fak_1,
            1,
        ),
        (
            ("p99", "latency p99, 1 connection", "µs", |r| r.p99_us),
            b.direct_1,
            b.fak_1,
            1,
        ),
        (
            (
                "rps",
                "requests/s, 64 connections",
                "requests/s",
                WrkRun::requests_per_s,
            ),
            b.direct_64,
            b.fak_64,
            64,
        ),
    ];
    for ((key, what, unit, get), direct, fak, connections) in metrics {
        let direct_id = format!("gateway.proxy.{key}.direct");
        for (path, run, baseline) in [
            ("direct", direct, None),
            (
                "fak",
                fak,
                Some(Baseline {
                    what: format!("{what}, straight to the mock upstream"),
                    value: get(&direct),
                    entry: Some(direct_id.clone()),
                }),
            ),
        ] {
            let shown = if path == "fak" {
                "through fak serve"
            } else {
                "straight to the mock upstream"
            };
            push(
                format!("gateway.proxy.{key}.{path}"),
                format!("Gateway bench: {what}, {shown}"),
                get(&run),
                unit,
                baseline,
                vec![
                    ("path", Param::Text(path.to_string())),
                    ("connections", Param::Number(connections as f64)),
                    ("errors", Param::Number(run.errors() as f64)),
                ],
            );
        }
    }
    push(
        "gateway.proxy.added_p50".to_string(),
        "Gateway bench: latency fak serve adds at p50, 1 connection".to_string(),
        b.fak_1.p50_us - b.direct_1.p50_us,
        "µs",
        None,
        Vec::new(),
    );
    let soak = [
        ("rps", "requests/s", "requests/s", b.soak.requests_per_s()),
        (
            "rss_before",
            "resident set before",
            "KiB",
            b.machine.rss_before_kib as f64,
        ),
        (
            "rss_after",
            "resident set after",
            "KiB",
            b.machine.rss_after_kib as f64,
        ),
    ];
    for (key, what, unit, value) in soak {
        push(
            format!("gateway.proxy.soak.{key}"),
            format!(
                "Gateway bench: {} s soak at 64 connections through fak serve, {what}",
                b.machine.soak_s
            ),
            value,
            unit,
            None,
            vec![
                ("soak_s", Param::Number(b.machine.soak_s as f64)),
                ("errors", Param::Number(b.soak.errors() as f64)),
            ],
        );
    }
    out
}
