//! `fak serve`'s tables: the proxy's added latency (`harness gateway`) and the in-kernel
//! demo's requests (`harness serve-demo`).

use crate::ledger::{Entry, Ledger};
use crate::number::grouped;

use super::format::{measured, with_range};
use super::{ReadmeError, get};

fn number(e: &Entry, key: &str) -> Option<f64> {
    e.params.get(key).and_then(|p| p.as_number())
}

/// Straight to the mock upstream against through `fak serve`, then the added latency and
/// the soak.
pub fn gateway_proxy(ledger: &Ledger) -> Result<String, ReadmeError> {
    const BLOCK: &str = "gateway_proxy";
    let entry = |id: &str| get(ledger, BLOCK, &format!("gateway.proxy.{id}"));
    let errors = |e: &Entry| match number(e, "errors") {
        Some(0.0) => "none".to_string(),
        Some(n) => grouped(n),
        None => "-".to_string(),
    };
    let mut out =
        String::from("| | straight to the mock upstream | through `fak serve` |\n|---|---|---|\n");
    for (key, what) in [
        ("p50", "latency p50, 1 connection"),
        ("p99", "latency p99, 1 connection"),
        ("rps", "requests/s, 64 connections (10 s)"),
    ] {
        out.push_str(&format!(
            "| {what} | {} | {} |\n",
            measured(entry(&format!("{key}.direct"))?),
            measured(entry(&format!("{key}.fak"))?)
        ));
    }
    let (direct, fak) = (entry("rps.direct")?, entry("rps.fak")?);
    out.push_str(&format!(
        "| errors, 64 connections | {} | {} |\n\n",
        errors(direct),
        errors(fak)
    ));
    let soak = entry("soak.rps")?;
    out.push_str(&format!(
        "Added latency at p50: {}. A {} s soak at 64 connections through fak served {} \
         (errors: {}); fak's resident set was {} before it and {} after.\n",
        measured(entry("added_p50")?),
        number(soak, "soak_s").map_or("-".to_string(), grouped),
        measured(soak),
        errors(soak),
        measured(entry("soak.rss_before")?),
        measured(entry("soak.rss_after")?)
    ));
    Ok(out)
}

/// The in-kernel demo's four requests: usage (the same every run) and wall time.
pub fn serve_in_kernel(ledger: &Ledger) -> Result<String, ReadmeError> {
    const BLOCK: &str = "serve_in_kernel";
    let mut out = String::from(
        "| request | prompt tokens | reused from the KV cache | completion tokens | wall time, median (min to max) |\n|---|---|---|---|---|\n",
    );
    for (key, what) in [
        ("warm_up", "warm-up, another system prompt"),
        ("first", "a conversation, cold"),
        ("repeat", "the same conversation again"),
        ("second", "a second conversation, same system prompt"),
    ] {
        let e = get(ledger, BLOCK, &format!("serve.in_kernel.time.{key}"))?;
        let count = |k: &str| number(e, k).map_or("-".to_string(), grouped);
        let question = e
            .params
            .get("question")
            .map_or(String::new(), |q| format!(": \"{q}\""));
        out.push_str(&format!(
            "| {what}{question} | {} | {} | {} | {} |\n",
            count("prompt_tokens"),
            count("cached_tokens"),
            count("completion_tokens"),
            with_range(e)
        ));
    }
    out.push_str(&format!(
        "\nThe server's resident set once it is ready (`VmRSS` in `/proc/PID/status`), with \
         the default KV budget: {}.\n",
        with_range(get(ledger, BLOCK, "serve.in_kernel.rss_after_start")?)
    ));
    Ok(out)
}
