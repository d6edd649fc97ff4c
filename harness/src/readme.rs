//! README.md's numbers, written from the ledger. A table of published numbers sits between
//! `<!-- ledger:NAME -->` and `<!-- /ledger:NAME -->`; `harness readme` rewrites every such
//! block from data/ledger.json and `--check` fails when a committed block differs, so a
//! number in the README is always one the ledger holds (with its command and provenance in
//! BENCHMARK-AUTHORITY.md).

use std::collections::BTreeMap;

use thiserror::Error;

use crate::ledger::{Entry, Ledger};
use crate::number::{compact, grouped};

pub const README_PATH: &str = "README.md";

#[derive(Debug, Error, PartialEq)]
pub enum ReadmeError {
    #[error("README.md line {line}: unknown generated block \"{name}\" (known: {known})")]
    UnknownBlock {
        line: usize,
        name: String,
        known: String,
    },
    #[error("README.md line {line}: block \"{name}\" has no closing <!-- /ledger:{name} -->")]
    Unclosed { line: usize, name: String },
    #[error("block \"{block}\": the ledger has no entry {id} (run the command that measures it)")]
    Missing { block: &'static str, id: String },
}

type Render = fn(&Ledger) -> Result<String, ReadmeError>;

/// Every block a README may hold, by name.
const BLOCKS: &[(&str, Render)] = &[
    ("throughput", throughput),
    ("ops_bench", ops_bench),
    ("fleet", fleet),
    ("excision", excision),
];

/// `readme` with every generated block rewritten from `ledger`.
pub fn render(readme: &str, ledger: &Ledger) -> Result<String, ReadmeError> {
    let mut out = String::with_capacity(readme.len());
    let mut lines = readme.split_inclusive('\n').enumerate();
    while let Some((i, line)) = lines.next() {
        out.push_str(line);
        let Some(name) = line
            .trim()
            .strip_prefix("<!-- ledger:")
            .and_then(|rest| rest.strip_suffix("-->"))
            .map(str::trim)
        else {
            continue;
        };
        let render = BLOCKS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| r)
            .ok_or_else(|| ReadmeError::UnknownBlock {
                line: i + 1,
                name: name.to_string(),
                known: BLOCKS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let end = format!("<!-- /ledger:{name} -->");
        // Skip the old body up to the closing marker, which is kept.
        let closing = lines
            .by_ref()
            .find(|(_, l)| l.trim() == end)
            .ok_or_else(|| ReadmeError::Unclosed {
                line: i + 1,
                name: name.to_string(),
            })?;
        out.push_str(&render(ledger)?);
        out.push_str(closing.1);
    }
    Ok(out)
}

fn get<'a>(ledger: &'a Ledger, block: &'static str, id: &str) -> Result<&'a Entry, ReadmeError> {
    ledger.get(id).ok_or_else(|| ReadmeError::Missing {
        block,
        id: id.to_string(),
    })
}

/// `0.08x`, `1.9x`, `44x`: three significant digits at most.
fn times(ratio: f64) -> String {
    format!("{}x", compact(ratio))
}

/// A duration in nanoseconds as `47.8 µs`, `2.11 ms`, `23.9 s`.
fn duration_ns(ns: f64) -> String {
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    format!("{} {unit}", compact(value))
}

/// fak and its peers: prefill, decode and peak memory (`harness throughput`).
fn throughput(ledger: &Ledger) -> Result<String, ReadmeError> {
    const BLOCK: &str = "throughput";
    let decode = ledger.study("decode_throughput");
    if decode.is_empty() {
        return Err(ReadmeError::Missing {
            block: BLOCK,
            id: "throughput.decode.*".to_string(),
        });
    }
    let mut out = String::from(
        "| engine | prefill tok/s | vs llama.cpp bf16 | decode tok/s | vs llama.cpp bf16 | peak RSS / weight bytes |\n|---|---|---|---|---|---|\n",
    );
    for d in decode {
        let Some(slug) = d.id.strip_prefix("throughput.decode.") else {
            continue;
        };
        let engine = d
            .params
            .get("engine")
            .map_or(slug.to_string(), |p| p.to_string());
        if slug == "roofline" {
            out.push_str(&format!(
                "| roofline (MODELED: read bandwidth {} GB/s / weight bytes) | | | {} | | |\n",
                compact(get(ledger, BLOCK, "throughput.bandwidth")?.value),
                compact(d.value)
            ));
            continue;
        }
        let prefill = get(ledger, BLOCK, &format!("throughput.prefill.{slug}"))?;
        let rss = get(ledger, BLOCK, &format!("throughput.peak_rss.{slug}"))?;
        let vs = |e: &Entry| e.ratio.map_or("baseline".to_string(), times);
        out.push_str(&format!(
            "| {engine} | {} | {} | {} | {} | {} |\n",
            compact(prefill.value),
            vs(prefill),
            compact(d.value),
            vs(d),
            rss.ratio.map_or("-".to_string(), times)
        ));
    }
    Ok(out)
}

/// Per-op criterion medians, CPU against llvmpipe (`harness criterion`).
fn ops_bench(ledger: &Ledger) -> Result<String, ReadmeError> {
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
fn fleet(ledger: &Ledger) -> Result<String, ReadmeError> {
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
fn excision(ledger: &Ledger) -> Result<String, ReadmeError> {
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
    use super::*;

    fn ledger() -> Ledger {
        Ledger::from_entries(Vec::new(), "test").unwrap()
    }

    #[test]
    fn text_outside_blocks_is_kept_and_an_unknown_block_is_named() {
        let text = "# t\n\nplain 1.5 ms\n";
        assert_eq!(render(text, &ledger()).unwrap(), text);
        let err = render(
            "a\n<!-- ledger:nope -->\n<!-- /ledger:nope -->\n",
            &ledger(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ReadmeError::UnknownBlock { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn an_unclosed_block_and_missing_entries_are_errors() {
        let err = render("<!-- ledger:fleet -->\nold\n", &ledger()).unwrap_err();
        assert_eq!(
            err,
            ReadmeError::Unclosed {
                line: 1,
                name: "fleet".to_string()
            }
        );
        let err = render(
            "<!-- ledger:throughput -->\n<!-- /ledger:throughput -->\n",
            &ledger(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ReadmeError::Missing {
                    block: "throughput",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn durations_and_ratios_read_as_people_write_them() {
        assert_eq!(duration_ns(47_842.0), "47.8 µs");
        assert_eq!(duration_ns(2_112_723.8), "2.11 ms");
        assert_eq!(duration_ns(23.85e9), "23.9 s");
        assert_eq!(times(0.0452), "0.05x");
        assert_eq!(times(44.16), "44.2x");
    }
}
