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

/// fak-ops' matvec against plain f32 loops over the same bf16 weights, per shape
/// (`cargo bench -p fak-ops --bench matvec`, recorded by `harness criterion`): the time
/// per matvec from each entry's `median_ns`, and the prepared path's time over
/// `plain_lanes`'.
pub fn matvec_bench(ledger: &Ledger) -> Result<String, ReadmeError> {
    const BLOCK: &str = "matvec_bench";
    const STUDY: &str = "bench.matvec_bf16";
    let mut shapes: Vec<(usize, usize)> = ledger
        .study(STUDY)
        .iter()
        .filter_map(|e| e.params.get("param").and_then(|p| p.as_text()))
        .filter_map(|p| p.split_once('x'))
        .filter_map(|(i, o)| Some((i.parse().ok()?, o.parse().ok()?)))
        .collect();
    if shapes.is_empty() {
        return Err(ReadmeError::Missing {
            block: BLOCK,
            id: format!("{STUDY}.*"),
        });
    }
    // Smallest matrix first; of two with as many weights, the narrower input first.
    shapes.sort_by_key(|&(i, o)| (i * o, i));
    shapes.dedup();
    let mut out = String::from(
        "| shape (in x out) | fak, prepared weights | fak, plain view | plain_lanes | plain_serial | prepared / plain_lanes |\n|---|---|---|---|---|---|\n",
    );
    for (i, o) in shapes {
        let median = |function: &str| -> Result<f64, ReadmeError> {
            let id = format!("{STUDY}.{function}.{i}x{o}");
            let e = get(ledger, BLOCK, &id)?;
            e.params
                .get("median_ns")
                .and_then(|p| p.as_number())
                .ok_or(ReadmeError::Inconsistent {
                    block: BLOCK,
                    what: format!(
                        "{id} has no median_ns param (record it with `harness criterion`)"
                    ),
                })
        };
        let prepared = median("deterministic_prepared")?;
        let lanes = median("plain_lanes")?;
        out.push_str(&format!(
            "| {i} x {o} | {} | {} | {} | {} | {} |\n",
            duration_ns(prepared),
            duration_ns(median("deterministic")?),
            duration_ns(lanes),
            duration_ns(median("plain_serial")?),
            times(prepared / lanes)
        ));
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

#[cfg(test)]
mod tests {
    use super::super::test_entry;
    use super::*;
    use crate::ledger::{Entry, Param};

    fn bench(function: &str, shape: &str, median_ns: f64) -> Entry {
        let text = |t: &str| Param::Text(t.to_string());
        test_entry(
            &format!("bench.matvec_bf16.{function}.{shape}"),
            1.0,
            &[
                ("study", text("bench.matvec_bf16")),
                ("param", text(shape)),
                ("median_ns", Param::Number(median_ns)),
            ],
        )
    }

    #[test]
    fn matvec_rows_go_smallest_matrix_first_timed_from_the_medians() {
        let mut entries = Vec::new();
        for (shape, scale) in [("4864x896", 10.0), ("896x4864", 10.0), ("896x896", 1.0)] {
            for (function, ns) in [
                ("deterministic", 2_000.0),
                ("deterministic_prepared", 900.0),
                ("plain_lanes", 1_000.0),
                ("plain_serial", 5_000.0),
            ] {
                entries.push(bench(function, shape, ns * scale));
            }
        }
        let text = matvec_bench(&Ledger::from_entries(entries, "test").unwrap()).unwrap();
        let rows: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            rows,
            [
                "| 896 x 896 | 900 ns | 2 µs | 1 µs | 5 µs | 0.9x |",
                "| 896 x 4864 | 9 µs | 20 µs | 10 µs | 50 µs | 0.9x |",
                "| 4864 x 896 | 9 µs | 20 µs | 10 µs | 50 µs | 0.9x |",
            ]
        );
    }

    #[test]
    fn a_matvec_shape_missing_a_variant_is_named() {
        let entries = vec![bench("deterministic_prepared", "896x896", 900.0)];
        let err = matvec_bench(&Ledger::from_entries(entries, "test").unwrap()).unwrap_err();
        assert_eq!(
            err,
            ReadmeError::Missing {
                block: "matvec_bench",
                id: "bench.matvec_bf16.plain_lanes.896x896".to_string()
            }
        );
    }
}
