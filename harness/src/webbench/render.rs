//! The text `webbench describe` prints: the totals table, the context curve's endpoints,
//! and every assumption.

use std::fmt::Write;

use crate::number::{grouped, ratio};

use super::policy::Policy;
use super::report::Report;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "turn-tax geometry ({}), {} tasks: prefilled tokens",
        report.geometry.key(),
        report.task_count
    );
    let _ = writeln!(
        out,
        "{:>7}  {:>16}  {:>16}  {:>16}  {:>9}  {:>9}",
        "workers", "naive", "private KV", "shared prefix", "naive/prv", "naive/shd"
    );
    for row in &report.fleet {
        let t = |p: Policy| row.prefill_tokens.get(p);
        let naive = t(Policy::Naive) as f64;
        let _ = writeln!(
            out,
            "{:>7}  {:>16}  {:>16}  {:>16}  {:>9}  {:>9}",
            row.workers,
            grouped(naive),
            grouped(t(Policy::PrivateKv) as f64),
            grouped(t(Policy::SharedPrefix) as f64),
            ratio(naive / t(Policy::PrivateKv) as f64),
            ratio(naive / t(Policy::SharedPrefix) as f64),
        );
    }
    let measured_rows: Vec<_> = report
        .fleet
        .iter()
        .filter_map(|r| {
            Some((
                r,
                r.prefill_attention_flops?,
                r.decode_tokens?,
                r.decode_attention_flops?,
            ))
        })
        .collect();
    if !measured_rows.is_empty() {
        let _ = writeln!(
            out,
            "\nattention FLOPs (prefill per policy; decode, the same under every policy)"
        );
        let _ = writeln!(
            out,
            "{:>7}  {:>12}  {:>12}  {:>12}  {:>14}  {:>12}",
            "workers", "naive", "private KV", "shared", "decode tokens", "decode"
        );
        for (row, flops, decode_tokens, decode_flops) in measured_rows {
            let _ = writeln!(
                out,
                "{:>7}  {:>12.4e}  {:>12.4e}  {:>12.4e}  {:>14}  {:>12.4e}",
                row.workers,
                flops.get(Policy::Naive),
                flops.get(Policy::PrivateKv),
                flops.get(Policy::SharedPrefix),
                grouped(decode_tokens as f64),
                decode_flops,
            );
        }
    }
    let c = &report.context;
    let _ = writeln!(
        out,
        "\ncumulative prefill by {} ({}), {}, {} workers:",
        c.x_label, c.x_unit, c.shape, c.workers
    );
    for policy in Policy::ALL {
        let ys = c.cumulative_prefill.of(policy);
        let (Some(x), Some(y)) = (c.x.last(), ys.last()) else {
            continue;
        };
        let _ = writeln!(
            out,
            "  {:<22} {} tokens at {} = {}",
            policy.label(),
            grouped(*y as f64),
            c.x_label,
            grouped(*x as f64)
        );
    }
    let _ = writeln!(out, "\nassumptions:");
    for a in &report.assumptions {
        let _ = writeln!(out, "  - {a}");
    }
    out
}
