//! The in-kernel model's tables: per-op benches, the live fleet and the excision sweep.

use std::collections::BTreeMap;

use crate::ledger::Ledger;
use crate::number::{compact, grouped};

use super::format::{duration_ns, times};
use super::{ReadmeError, get};

/// Per-op criterion medians, CPU against llvmpipe (`harness criterion`).
pub fn ops_bench(ledger: &Ledger) -> Result<String, ReadmeError> {
    const BLOCK: &str = "ops_bench";
    let mut out =
        String::from("| op | cpu | vulkan (llvmpipe) | vulkan / cpu |\n|---|---|---|---|\n");
    for (study, label) in [
        ("bench.matmul_bf16_1token", "matmul bf16, 1 token,"),
        ("bench.rms_norm", "rms_norm,"),
        ("bench.attention_decode", "attention decode,"),
    ] {
        // Rows in the order of their first entry; params are shapes ("896x896") or key
        // counts ("512").
        let mut rows: Vec<String> = Vec::new();
        for e in ledger.study(study) {
            let param = e
                .params
                .get("param")
                .map(|p| p.to_string())
                .unwrap_or_default();
            if !rows.contains(&param) {
                rows.push(param);
            }
        }
        for param in rows {
            let cpu = get(ledger, BLOCK, &format!("{study}.cpu.{param}"))?;
            let vulkan = get(ledger, BLOCK, &format!("{study}.vulkan.{param}"))?;
            let shown = if param.contains('x') && study == "bench.rms_norm" {
                param.replace('x', " x ")
            } else if study == "bench.attention_decode" {
                format!("{param} keys")
            } else {
                param.clone()
            };
            out.push_str(&format!(
                "| {label} {shown} | {} | {} | {} |\n",
                duration_ns(cpu.value),
                duration_ns(vulkan.value),
                times(vulkan.value / cpu.value)
            ));
        }
    }
    Ok(out)
}

/// The live fleet: prefill and time per policy and fleet size (`harness fleet`).
pub fn fleet(ledger: &Ledger) -> Result<String, ReadmeError> {
    const BLOCK: &str = "fleet";
    let mut sizes = BTreeMap::new();
    for e in ledger.study("fleet.live.prefill") {
        if let Some(w) = e.params.get("workers").and_then(|p| p.as_number()) {
            sizes.insert(w as u64, ());
        }
    }
    let mut out = String::from(
        "| agents | naive re-prefill | private KV per agent | shared prefix (kernel) |\n|---|---|---|---|\n",
    );
    for w in sizes.keys() {
        let cell = |policy: &str| -> Result<(f64, f64), ReadmeError> {
            Ok((
                get(ledger, BLOCK, &format!("fleet.live.prefill.{policy}.w{w}"))?.value,
                get(ledger, BLOCK, &format!("fleet.live.seconds.{policy}.w{w}"))?.value,
            ))
        };
        let (naive, naive_s) = cell("naive")?;
        let mut row = format!(
            "| {w} | {} tokens, {} s |",
            grouped(naive),
            compact(naive_s)
        );
        for policy in ["private_kv", "shared_prefix"] {
            let (tokens, seconds) = cell(policy)?;
            row.push_str(&format!(
                " {} ({}), {} s |",
                grouped(tokens),
                times(tokens / naive),
                compact(seconds)
            ));
        }
        out.push_str(&row);
        out.push('\n');
    }
    Ok(out)
}

/// Excision against a cold re-prefill per span position (`harness excise`).
pub fn excision(ledger: &Ledger) -> Result<String, ReadmeError> {
    const BLOCK: &str = "excision";
    let mut positions: Vec<u64> = ledger
        .study("excision.cost")
        .iter()
        .filter_map(|e| e.params.get("span_position").and_then(|p| p.as_number()))
        .map(|p| p as u64)
        .collect();
    positions.sort_unstable();
    positions.dedup();
    let mut out = String::from(
        "| span at | recomputed: excise / cold | time: excise / cold | cold / excise |\n|---|---|---|---|\n",
    );
    for p in positions {
        let value = |what: &str, arm: &str| {
            get(ledger, BLOCK, &format!("excision.{what}.{arm}.p{p}")).map(|e| e.value)
        };
        let (excise_s, cold_s) = (value("time", "excise")?, value("time", "cold")?);
        out.push_str(&format!(
            "| {p} | {} / {} | {} / {} | {} |\n",
            grouped(value("cost", "excise")?),
            grouped(value("cost", "cold")?),
            duration_ns(excise_s * 1e9),
            duration_ns(cold_s * 1e9),
            times(cold_s / excise_s)
        ));
    }
    Ok(out)
}
