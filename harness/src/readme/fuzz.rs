//! The fuzz targets' bounded runs (`harness fuzz`, study `fuzz`): one sentence, the inputs
//! each target ran.

use crate::ledger::{Entry, Ledger};
use crate::number::grouped;

use super::ReadmeError;

const BLOCK: &str = "fuzz";

fn param<'a, T>(
    e: &'a Entry,
    key: &str,
    read: impl Fn(&'a crate::ledger::Param) -> Option<T>,
) -> Result<T, ReadmeError> {
    e.params
        .get(key)
        .and_then(read)
        .ok_or_else(|| ReadmeError::Inconsistent {
            block: BLOCK,
            what: format!(
                "{} has no {key} param (record it with `harness fuzz --json OUT`)",
                e.id
            ),
        })
}

/// Every target in the order the run ran them; the run's length and toolchain must be one
/// for all of them, or the sentence would mix runs.
pub fn fuzz(ledger: &Ledger) -> Result<String, ReadmeError> {
    let entries = ledger.study(BLOCK);
    let first = entries.first().ok_or_else(|| ReadmeError::Missing {
        block: BLOCK,
        id: "fuzz.*".to_string(),
    })?;
    let seconds = param(first, "max_total_time_s", |p| p.as_number())?;
    let toolchain = param(first, "toolchain", |p| p.as_text())?;
    let mut counts = Vec::with_capacity(entries.len());
    for e in &entries {
        if param(e, "max_total_time_s", |p| p.as_number())? != seconds
            || param(e, "toolchain", |p| p.as_text())? != toolchain
        {
            return Err(ReadmeError::Inconsistent {
                block: BLOCK,
                what: format!(
                    "{} and {} come from different runs (rerun `harness fuzz` and record \
                     every target)",
                    first.id, e.id
                ),
            });
        }
        counts.push(format!(
            "`{}` {} runs",
            param(e, "target", |p| p.as_text())?,
            grouped(e.value)
        ));
    }
    Ok(format!(
        "`{}` ran each target for {} s without a crash: {}. Toolchain: {toolchain}, with \
         `RUSTC_BOOTSTRAP=1`.\n",
        first.command,
        grouped(seconds),
        counts.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::super::test_entry;
    use super::*;
    use crate::ledger::Param;

    fn run(target: &str, runs: f64, seconds: f64) -> Entry {
        test_entry(
            &format!("fuzz.{target}.runs"),
            runs,
            &[
                ("study", Param::Text("fuzz".to_string())),
                ("target", Param::Text(target.to_string())),
                ("max_total_time_s", Param::Number(seconds)),
                ("toolchain", Param::Text("cargo-fuzz 0.13.2".to_string())),
            ],
        )
    }

    #[test]
    fn every_target_is_counted_in_run_order() {
        let ledger = Ledger::from_entries(
            vec![
                run("policy_loader", 84_000.0, 20.0),
                run("admission", 27_950.0, 20.0),
            ],
            "test",
        )
        .unwrap();
        let text = fuzz(&ledger).unwrap();
        assert!(
            text.contains(
                "for 20 s without a crash: `policy_loader` 84,000 runs, `admission` 27,950 runs."
            ),
            "{text}"
        );
        assert!(
            text.ends_with("Toolchain: cargo-fuzz 0.13.2, with `RUSTC_BOOTSTRAP=1`.\n"),
            "{text}"
        );
    }

    #[test]
    fn targets_from_runs_of_different_lengths_are_refused() {
        let ledger = Ledger::from_entries(
            vec![
                run("policy_loader", 84_000.0, 20.0),
                run("admission", 83_959.0, 60.0),
            ],
            "test",
        )
        .unwrap();
        let err = fuzz(&ledger).unwrap_err();
        assert!(err.to_string().contains("different runs"), "{err}");
    }

    #[test]
    fn no_fuzz_entries_is_a_missing_block() {
        let ledger = Ledger::from_entries(Vec::new(), "test").unwrap();
        assert!(matches!(
            fuzz(&ledger),
            Err(ReadmeError::Missing { block: "fuzz", .. })
        ));
    }
}
