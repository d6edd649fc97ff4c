//! `harness verify`'s parity gates as recorded in the ledger (study `parity`): one row a
//! gate, one column a backend it ran on.

use crate::ledger::{Entry, Ledger};
use crate::number::grouped;

use super::ReadmeError;

const BLOCK: &str = "parity";

fn text<'a>(e: &'a Entry, key: &str) -> Result<&'a str, ReadmeError> {
    e.params
        .get(key)
        .and_then(|p| p.as_text())
        .ok_or_else(|| missing_param(e, key))
}

fn missing_param(e: &Entry, key: &str) -> ReadmeError {
    ReadmeError::Inconsistent {
        block: BLOCK,
        what: format!(
            "{} has no {key} param (record it with `harness verify --ledger OUT`)",
            e.id
        ),
    }
}

/// The table, then which device each backend column ran on and the tally.
pub fn parity(ledger: &Ledger) -> Result<String, ReadmeError> {
    let entries = ledger.study("parity");
    if entries.is_empty() {
        return Err(ReadmeError::Missing {
            block: BLOCK,
            id: "parity.*".to_string(),
        });
    }
    // Backends and gates in the order verify ran them.
    let mut backends: Vec<(&str, &str)> = Vec::new();
    let mut gates: Vec<&str> = Vec::new();
    for e in &entries {
        let backend = text(e, "backend")?;
        if !backends.iter().any(|(b, _)| *b == backend) {
            backends.push((backend, text(e, "device")?));
        }
        let gate = text(e, "gate")?;
        if !gates.contains(&gate) {
            gates.push(gate);
        }
    }
    let mut out = String::from("| gate | compared | values |");
    for (backend, _) in &backends {
        out.push_str(&format!(" max\\|Δ\\| {backend} |"));
    }
    out.push_str("\n|---|---|---:|");
    out.push_str(&"---|".repeat(backends.len()));
    out.push('\n');
    let (mut passed, mut failed) = (0, 0);
    for gate in gates {
        let runs: Vec<&Entry> = entries
            .iter()
            .copied()
            .filter(|e| text(e, "gate").is_ok_and(|g| g == gate))
            .collect();
        let first = runs[0];
        let values = first
            .params
            .get("values")
            .and_then(|p| p.as_number())
            .ok_or_else(|| missing_param(first, "values"))?;
        // One sweep runs on every backend, so it compares as many values everywhere.
        if let Some(other) = runs
            .iter()
            .find(|e| e.params.get("values").and_then(|p| p.as_number()) != Some(values))
        {
            return Err(ReadmeError::Inconsistent {
                block: BLOCK,
                what: format!(
                    "gate \"{gate}\" compared different counts of values on two backends ({} and {})",
                    first.id, other.id
                ),
            });
        }
        out.push_str(&format!(
            "| {gate} | {} | {} |",
            text(first, "compared")?,
            grouped(values)
        ));
        for (backend, _) in &backends {
            let cell = match runs.iter().find(|e| text(e, "backend") == Ok(*backend)) {
                None => "-".to_string(),
                Some(e) => {
                    let result = text(e, "result")?;
                    if result == "PASS" {
                        passed += 1;
                    } else {
                        failed += 1;
                    }
                    format!("{} {result}", crate::number::compact(e.value))
                }
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    let devices: Vec<String> = backends
        .iter()
        .map(|(b, device)| format!("{b}: {device}"))
        .collect();
    out.push_str(&format!(
        "\n{passed} passed, {failed} failed ({}); `-`: the gate does not run there.\n",
        devices.join("; ")
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_entry;
    use super::*;
    use crate::ledger::Param;

    fn gate(gate: &str, backend: &str, delta: f64, values: f64, result: &str) -> Entry {
        let text = |t: &str| Param::Text(t.to_string());
        test_entry(
            &format!("parity.{}.{backend}", gate.replace(' ', "_")),
            delta,
            &[
                ("study", text("parity")),
                ("gate", text(gate)),
                ("backend", text(backend)),
                ("device", text(&format!("{backend} device"))),
                ("compared", text("outputs vs cpu")),
                ("values", Param::Number(values)),
                ("result", text(result)),
            ],
        )
    }

    fn render(entries: Vec<Entry>) -> Result<String, ReadmeError> {
        parity(&Ledger::from_entries(entries, "test").unwrap())
    }

    #[test]
    fn one_row_a_gate_one_column_a_backend_and_failures_counted() {
        let text = render(vec![
            gate("kv fork", "cpu", 0.0, 1200.0, "PASS"),
            gate("op rope", "vulkan", 0.5, 64.0, "FAIL"),
            gate("kv fork", "vulkan", 0.0, 1200.0, "PASS"),
        ])
        .unwrap();
        assert!(
            text.starts_with("| gate | compared | values | max\\|Δ\\| cpu | max\\|Δ\\| vulkan |\n"),
            "{text}"
        );
        assert!(
            text.contains("| kv fork | outputs vs cpu | 1,200 | 0 PASS | 0 PASS |\n"),
            "{text}"
        );
        assert!(
            text.contains("| op rope | outputs vs cpu | 64 | - | 0.5 FAIL |\n"),
            "{text}"
        );
        assert!(
            text.contains("2 passed, 1 failed (cpu: cpu device; vulkan: vulkan device)"),
            "{text}"
        );
    }

    #[test]
    fn a_gate_comparing_different_counts_on_two_backends_is_refused() {
        let err = render(vec![
            gate("kv fork", "cpu", 0.0, 1200.0, "PASS"),
            gate("kv fork", "vulkan", 0.0, 1100.0, "PASS"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("gate \"kv fork\" compared different counts"),
            "{err}"
        );
    }

    #[test]
    fn an_entry_without_the_params_verify_writes_is_named() {
        let mut old = gate("kv fork", "cpu", 0.0, 1200.0, "PASS");
        old.params.remove("result");
        let err = render(vec![old]).unwrap_err().to_string();
        assert!(
            err.contains("parity.kv_fork.cpu has no result param"),
            "{err}"
        );
    }
}
