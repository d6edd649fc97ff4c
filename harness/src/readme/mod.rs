//! README.md's numbers, written from the ledger. A table of published numbers sits between
//! `<!-- ledger:NAME -->` and `<!-- /ledger:NAME -->`; `harness readme` rewrites every such
//! block from data/ledger.json and `--check` fails when a committed block differs, so a
//! number in the README is always one the ledger holds (with its command and provenance in
//! BENCHMARK-AUTHORITY.md).

mod format;
mod fuzz;
mod gateway;
mod inference;
mod kernel;
mod parity;
mod throughput;

use thiserror::Error;

use crate::ledger::{Entry, Ledger};
use fuzz::fuzz;
use gateway::{gateway_proxy, serve_in_kernel};
use inference::{excision, fleet, matvec_bench, ops_bench};
use kernel::{fused_revoke, kernel_bench, kv_bench, scenario_bench};
use parity::parity;
use throughput::{throughput, throughput_cuda, throughput_gemma3};

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
    #[error("block \"{block}\": {what}")]
    Inconsistent { block: &'static str, what: String },
}

type Render = fn(&Ledger) -> Result<String, ReadmeError>;

/// Every block a README may hold, by name.
const BLOCKS: &[(&str, Render)] = &[
    ("throughput", throughput),
    ("throughput_gemma3", throughput_gemma3),
    ("throughput_cuda", throughput_cuda),
    ("ops_bench", ops_bench),
    ("matvec_bench", matvec_bench),
    ("parity", parity),
    ("fleet", fleet),
    ("excision", excision),
    ("kernel_bench", kernel_bench),
    ("scenario_bench", scenario_bench),
    ("kv_bench", kv_bench),
    ("fused_revoke", fused_revoke),
    ("fuzz", fuzz),
    ("gateway_proxy", gateway_proxy),
    ("serve_in_kernel", serve_in_kernel),
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

/// A MODELED entry with `params` and nothing else, for the renderers' tests.
#[cfg(test)]
fn test_entry(id: &str, value: f64, params: &[(&str, crate::ledger::Param)]) -> Entry {
    Entry {
        id: id.to_string(),
        title: "test".to_string(),
        value,
        unit: "test".to_string(),
        baseline: None,
        ratio: None,
        provenance: crate::ledger::Provenance::Modeled,
        method: None,
        command: "cargo run -p fak-harness -- test".to_string(),
        artifact: None,
        machine: None,
        date: None,
        commit: None,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        series: None,
    }
}

#[cfg(test)]
mod tests {
    use super::format::{duration_ns, times};
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
