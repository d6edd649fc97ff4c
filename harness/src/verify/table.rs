//! The verify report as a table for people: one row per gate and backend, a backend that
//! ran none of its gates folded into one line, and the reasons as numbered notes.

use fak_backends::BackendKind;

use super::{Row, Verdict};
use crate::number::grouped;

/// The table, the notes under it, and a summary line.
pub fn render(rows: &[Row]) -> String {
    let mut lines: Vec<[String; 6]> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut note = |reason: &Option<String>, backend: BackendKind| -> String {
        let Some(reason) = reason else {
            return String::new();
        };
        let text = format!("{backend}: {reason}");
        let n = match notes.iter().position(|t| *t == text) {
            Some(i) => i + 1,
            None => {
                notes.push(text);
                notes.len()
            }
        };
        format!(" [{n}]")
    };
    for group in rows.chunk_by(|a, b| a.backend == b.backend) {
        let first = &group[0];
        let folded = group.len() > 1
            && group.iter().all(|r| {
                r.max_abs_delta.is_none() && r.result == first.result && r.reason == first.reason
            });
        if folded {
            lines.push([
                format!("(all {} gates)", group.len()),
                first.backend.to_string(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                format!(
                    "{}{}",
                    first.result.label(),
                    note(&first.reason, first.backend)
                ),
            ]);
            continue;
        }
        for r in group {
            lines.push([
                r.gate.clone(),
                r.backend.to_string(),
                r.compared.clone(),
                if r.max_abs_delta.is_some() {
                    grouped(r.values as f64)
                } else {
                    "-".to_owned()
                },
                r.max_abs_delta.map_or_else(|| "-".to_owned(), delta),
                format!("{}{}", r.result.label(), note(&r.reason, r.backend)),
            ]);
        }
    }
    let header = ["gate", "backend", "compared", "values", "max|Δ|", "result"].map(str::to_owned);
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            std::iter::once(&header)
                .chain(&lines)
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in std::iter::once(&header).chain(&lines) {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &w))| {
                // Numbers right-aligned, text left-aligned.
                if c == 3 || c == 4 {
                    format!("{cell:>w$}")
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    for (i, n) in notes.iter().enumerate() {
        out.push_str(&format!("[{}] {n}\n", i + 1));
    }
    let count = |v: Verdict| rows.iter().filter(|r| r.result == v).count();
    out.push_str(&format!(
        "verify: {} passed, {} failed, {} skipped\n",
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Skipped)
    ));
    out
}

/// max|Δ| for the table: 0 exactly, otherwise three significant digits.
fn delta(d: f64) -> String {
    if d == 0.0 {
        "0".to_owned()
    } else if d.is_infinite() {
        "inf".to_owned()
    } else {
        format!("{d:.2e}")
    }
}
