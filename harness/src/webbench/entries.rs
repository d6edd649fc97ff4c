//! A report as ledger entries (MODELED), in the measurement-file form that
//! `harness ledger add/update --from` takes: so the published turn-tax numbers are
//! written by the command that computes them, never typed.

use std::collections::BTreeMap;

use crate::ledger::{Baseline, Entry, Param, Provenance, Series};

use super::policy::Policy;
use super::report::{PerPolicy, Report};

/// Where the entries came from: the command line that reproduces them and the data they
/// were computed from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub command: String,
    pub artifact: String,
}

/// The study names figures look entries up by.
pub fn study(report: &Report, what: &str) -> String {
    format!("turntax.{}.{what}", report.geometry.key())
}

pub fn to_entries(report: &Report, origin: &Origin) -> Vec<Entry> {
    let geometry = report.geometry.key();
    let method = format!(
        "{geometry} turn-tax geometry over {} tasks: {}; the command prints every assumption",
        report.task_count, report.basis
    );
    let entry =
        |id: String, title: String, value: f64, unit: &str, params: Vec<(&str, Param)>| Entry {
            id,
            title,
            value,
            unit: unit.to_string(),
            baseline: None,
            ratio: None,
            provenance: Provenance::Modeled,
            method: Some(method.clone()),
            command: origin.command.clone(),
            artifact: Some(origin.artifact.clone()),
            machine: None,
            date: None,
            commit: None,
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
            series: None,
        };
    let text = |s: &str| Param::Text(s.to_string());
    let mut out = Vec::new();
    let mut per_policy =
        |what: &str, title: &str, unit: &str, workers: u64, values: PerPolicy<f64>| {
            let naive_id = format!("turntax.{geometry}.{what}.naive.w{workers}");
            for policy in Policy::ALL {
                let mut e = entry(
                    format!("turntax.{geometry}.{what}.{}.w{workers}", policy.key()),
                    format!(
                        "{title}, {}, fleet of {workers} ({geometry})",
                        policy.label()
                    ),
                    values.get(policy),
                    unit,
                    vec![
                        ("study", text(&study(report, what))),
                        ("policy", text(policy.key())),
                        ("workers", Param::Number(workers as f64)),
                    ],
                );
                if policy != Policy::Naive {
                    e.baseline = Some(Baseline {
                        what: format!("naive re-prefill, fleet of {workers}"),
                        value: values.get(Policy::Naive),
                        entry: Some(naive_id.clone()),
                    });
                }
                out.push(e);
            }
        };
    for row in &report.fleet {
        let tokens = PerPolicy(row.prefill_tokens.0.map(|t| t as f64));
        per_policy("prefill", "Prefilled tokens", "tokens", row.workers, tokens);
        if let Some(flops) = row.prefill_attention_flops {
            per_policy(
                "attention",
                "Prefill attention FLOPs",
                "FLOPs",
                row.workers,
                flops,
            );
        }
    }
    for row in &report.fleet {
        let w = row.workers;
        let fleet_params = |what: &str| {
            vec![
                ("study", text(&study(report, what))),
                ("workers", Param::Number(w as f64)),
            ]
        };
        if let Some(tokens) = row.decode_tokens {
            out.push(entry(
                format!("turntax.{geometry}.decode.w{w}"),
                format!("Decoded tokens, every policy, fleet of {w} ({geometry})"),
                tokens as f64,
                "tokens",
                fleet_params("decode"),
            ));
        }
        if let Some(flops) = row.decode_attention_flops {
            out.push(entry(
                format!("turntax.{geometry}.decode_attention.w{w}"),
                format!("Decode attention FLOPs, every policy, fleet of {w} ({geometry})"),
                flops,
                "FLOPs",
                fleet_params("decode_attention"),
            ));
        }
    }
    let curve = &report.context;
    for policy in Policy::ALL {
        let ys = curve.cumulative_prefill.of(policy);
        let points: Vec<[f64; 2]> = curve
            .x
            .iter()
            .zip(ys)
            .map(|(&x, &y)| [x as f64, y as f64])
            .collect();
        let mut e = entry(
            format!("turntax.{geometry}.context.{}", policy.key()),
            format!(
                "Cumulative prefilled tokens by {}, {}, {}, fleet of {} ({geometry})",
                curve.x_label,
                policy.label(),
                curve.shape,
                curve.workers
            ),
            points.last().map_or(0.0, |p| p[1]),
            "tokens",
            vec![
                ("study", text(&study(report, "context"))),
                ("policy", text(policy.key())),
                ("workers", Param::Number(curve.workers as f64)),
            ],
        );
        e.series = Some(Series {
            x_label: curve.x_label.to_string(),
            x_unit: curve.x_unit.to_string(),
            points,
        });
        out.push(e);
    }
    out
}
