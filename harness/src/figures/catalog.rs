//! Every figure the project publishes and which ledger entries it is drawn from. A figure
//! whose entries are not in the ledger yet is not drawn, and says which study it waits for;
//! adding the entries (with `harness ledger add`) is all it takes to draw it.

use std::collections::BTreeMap;

use crate::capabilities::Capabilities;
use crate::ledger::{Entry, Ledger, Param, Provenance};
use crate::webbench::policy::Policy;

use super::FigureError;
use super::bars::{Bar, BarChart};
use super::line_chart::{Curve, LineChart};
use super::table::TableChart;

/// Where a figure's data comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// data/capabilities.json.
    Capabilities,
    /// The ledger entries whose `study` param is `study`, read as `form` says.
    Ledger { study: &'static str, form: Form },
}

/// How a study's entries become a drawing.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// Each entry is one point: x from param `x`, one curve per value of param `group`.
    Points {
        x: &'static str,
        group: &'static str,
        x_label: &'static str,
        y_label: &'static str,
    },
    /// Each entry is one curve (its `series`), labelled by param `group`.
    Series {
        group: &'static str,
        y_label: &'static str,
    },
    /// Each entry is one bar, labelled by param `category`.
    Bars {
        category: &'static str,
        y_label: &'static str,
    },
    /// Each entry is one cell: row from param `row`, column from param `column`.
    Table {
        row: &'static str,
        column: &'static str,
    },
}

/// One published figure.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// File stem under figures/.
    pub name: &'static str,
    pub title: &'static str,
    source: Source,
}

/// Turn-tax work against fleet size, one curve per policy (compat and measured alike).
const TURN_TAX_FLEET: Form = Form::Points {
    x: "workers",
    group: "policy",
    x_label: "agents per task",
    y_label: "prefilled tokens",
};

/// Cumulative turn-tax work as one task's context grows, one curve per policy.
const TURN_TAX_CONTEXT: Form = Form::Series {
    group: "policy",
    y_label: "cumulative prefilled tokens",
};

/// Prefill tokens/s, one bar an engine (`harness throughput`).
const PREFILL_BARS: Form = Form::Bars {
    category: "engine",
    y_label: "prefilled tokens per second",
};

/// Decode tokens/s, one bar an engine and one for the roofline (`harness throughput`).
const DECODE_BARS: Form = Form::Bars {
    category: "engine",
    y_label: "decoded tokens per second",
};

/// The figure list, in publication order.
pub const CATALOG: &[Spec] = &[
    Spec {
        name: "capability_matrix",
        title: "Capabilities",
        source: Source::Capabilities,
    },
    Spec {
        name: "turn_tax_fleet_compat",
        title: "Turn tax: prefill work against fleet size (published geometry, 643 tasks)",
        source: Source::Ledger {
            study: "turntax.compat.prefill",
            form: TURN_TAX_FLEET,
        },
    },
    Spec {
        name: "turn_tax_fleet_measured",
        title: "Turn tax: prefill work against fleet size (recorded trajectories)",
        source: Source::Ledger {
            study: "turntax.measured.prefill",
            form: TURN_TAX_FLEET,
        },
    },
    Spec {
        name: "turn_tax_context_compat",
        title: "Turn tax: cumulative prefill against context length (published geometry)",
        source: Source::Ledger {
            study: "turntax.compat.context",
            form: TURN_TAX_CONTEXT,
        },
    },
    Spec {
        name: "turn_tax_context_measured",
        title: "Turn tax: cumulative prefill by turn (longest recorded trajectory)",
        source: Source::Ledger {
            study: "turntax.measured.context",
            form: TURN_TAX_CONTEXT,
        },
    },
    Spec {
        name: "excision_cost",
        title: "Excision cost against span position",
        source: Source::Ledger {
            study: "excision.cost",
            form: Form::Points {
                x: "span_position",
                group: "arm",
                x_label: "span start (tokens into the context)",
                y_label: "recomputed tokens",
            },
        },
    },
    Spec {
        name: "prefix_reuse",
        title: "Prefix reuse against agent count (live fleet on the in-kernel model)",
        source: Source::Ledger {
            study: "fleet.live.prefill",
            form: Form::Points {
                x: "workers",
                group: "policy",
                x_label: "agents sharing the prefix",
                y_label: "prefilled tokens",
            },
        },
    },
    Spec {
        name: "prefill_throughput",
        title: "Prefill throughput against peers",
        source: Source::Ledger {
            study: "prefill_throughput",
            form: PREFILL_BARS,
        },
    },
    Spec {
        name: "decode_throughput",
        title: "Decode throughput against peers (roofline: read bandwidth / weight bytes)",
        source: Source::Ledger {
            study: "decode_throughput",
            form: DECODE_BARS,
        },
    },
    // `harness throughput --study gemma3`: its own studies, so Gemma never mixes into the
    // default checkpoint's bars.
    Spec {
        name: "prefill_throughput_gemma3",
        title: "Gemma 3 270M (Q4_K_M GGUF): prefill throughput against llama.cpp",
        source: Source::Ledger {
            study: "prefill_throughput.gemma3",
            form: PREFILL_BARS,
        },
    },
    Spec {
        name: "decode_throughput_gemma3",
        title: "Gemma 3 270M (Q4_K_M GGUF): decode throughput against llama.cpp",
        source: Source::Ledger {
            study: "decode_throughput.gemma3",
            form: DECODE_BARS,
        },
    },
    Spec {
        name: "parity_table",
        title: "Parity gates: max|delta| against the CPU reference",
        source: Source::Ledger {
            study: "parity",
            form: Form::Table {
                row: "gate",
                column: "backend",
            },
        },
    },
];

/// A figure ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Drawing {
    Capabilities(Capabilities),
    Lines(LineChart),
    Bars(BarChart),
    Table(TableChart),
}

impl Spec {
    /// The study (or file) this figure is drawn from, for messages.
    pub fn source_name(&self) -> String {
        match self.source {
            Source::Capabilities => crate::capabilities::CAPABILITIES_PATH.to_string(),
            Source::Ledger { study, .. } => format!("study \"{study}\""),
        }
    }

    /// The drawing, or `None` when the ledger holds no entries for it yet.
    pub fn build(
        &self,
        ledger: &Ledger,
        capabilities: Option<&Capabilities>,
    ) -> Result<Option<Drawing>, FigureError> {
        let (study, form) = match self.source {
            Source::Capabilities => return Ok(capabilities.cloned().map(Drawing::Capabilities)),
            Source::Ledger { study, form } => (study, form),
        };
        let found = ledger.study(study);
        if found.is_empty() {
            return Ok(None);
        }
        let unit = one_unit(&found, study)?;
        let lines = |x_label: String, y_label: &str, curves: Vec<Curve>| {
            Drawing::Lines(LineChart {
                title: self.title.to_string(),
                x_label,
                y_label: format!("{y_label} ({unit}, log scale)"),
                curves,
                note: note(&found, study),
            })
        };
        let drawing = match form {
            Form::Points {
                x,
                group,
                x_label,
                y_label,
            } => {
                let mut curves: Vec<Curve> = Vec::new();
                for e in &found {
                    let label = text_param(e, group)?;
                    let xv = number_param(e, x)?;
                    curve_for(&mut curves, &label, e.provenance)
                        .points
                        .push((xv, e.value));
                }
                for c in &mut curves {
                    c.points.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
                lines(x_label.to_string(), y_label, curves)
            }
            Form::Series { group, y_label } => {
                let mut curves = Vec::new();
                let mut x_axis = None;
                for e in &found {
                    let series = e.series.as_ref().ok_or_else(|| {
                        FigureError::Data(format!("entry \"{}\" in {study} has no series", e.id))
                    })?;
                    x_axis.get_or_insert((series.x_label.clone(), series.x_unit.clone()));
                    curves.push(Curve {
                        label: text_param(e, group)?,
                        provenance: e.provenance,
                        points: series.points.iter().map(|&[x, y]| (x, y)).collect(),
                    });
                }
                let (x_label, x_unit) = x_axis.unwrap_or_default();
                lines(format!("{x_label} ({x_unit})"), y_label, curves)
            }
            Form::Bars { category, y_label } => {
                let bars = found
                    .iter()
                    .map(|e| {
                        Ok(Bar {
                            label: text_param(e, category)?,
                            value: e.value,
                            provenance: e.provenance,
                        })
                    })
                    .collect::<Result<_, FigureError>>()?;
                Drawing::Bars(BarChart {
                    title: self.title.to_string(),
                    y_label: format!("{y_label} ({unit})"),
                    bars,
                    note: fence(&found),
                })
            }
            Form::Table { row, column } => {
                let mut rows: Vec<String> = Vec::new();
                let mut columns: Vec<String> = Vec::new();
                let mut values = BTreeMap::new();
                for e in &found {
                    let (r, c) = (text_param(e, row)?, text_param(e, column)?);
                    for (list, key) in [(&mut rows, &r), (&mut columns, &c)] {
                        if !list.contains(key) {
                            list.push(key.clone());
                        }
                    }
                    values.insert((r, c), e.value);
                }
                let cells = rows
                    .iter()
                    .map(|r| {
                        columns
                            .iter()
                            .map(|c| values.get(&(r.clone(), c.clone())).copied())
                            .collect()
                    })
                    .collect();
                Drawing::Table(TableChart {
                    title: format!("{} ({unit})", self.title),
                    rows,
                    columns,
                    cells,
                    note: note(&found, study),
                })
            }
        };
        Ok(Some(drawing))
    }
}

fn curve_for<'a>(curves: &'a mut Vec<Curve>, label: &str, provenance: Provenance) -> &'a mut Curve {
    let index = match curves
        .iter()
        .position(|c| c.label == label && c.provenance == provenance)
    {
        Some(i) => i,
        None => {
            curves.push(Curve {
                label: label.to_string(),
                provenance,
                points: Vec::new(),
            });
            curves.len() - 1
        }
    };
    &mut curves[index]
}

fn one_unit(entries: &[&Entry], study: &str) -> Result<String, FigureError> {
    let unit = &entries[0].unit;
    match entries.iter().find(|e| &e.unit != unit) {
        Some(other) => Err(FigureError::Data(format!(
            "{study}: entries mix units (\"{unit}\" and \"{}\" in \"{}\")",
            other.unit, other.id
        ))),
        None => Ok(unit.clone()),
    }
}

fn param<'a>(entry: &'a Entry, key: &str) -> Result<&'a Param, FigureError> {
    entry
        .params
        .get(key)
        .ok_or_else(|| FigureError::Data(format!("entry \"{}\" has no \"{key}\" param", entry.id)))
}

/// A param as a label, exactly as the ledger writes it (`llama.cpp q8_0`), except a policy
/// key, which reads as its name (`private_kv` is "private KV per agent").
fn text_param(entry: &Entry, key: &str) -> Result<String, FigureError> {
    let text = param(entry, key)?.to_string();
    Ok(match Policy::from_key(&text) {
        Some(policy) if key == "policy" => policy.label().to_string(),
        _ => text,
    })
}

fn number_param(entry: &Entry, key: &str) -> Result<f64, FigureError> {
    param(entry, key)?.as_number().ok_or_else(|| {
        FigureError::Data(format!(
            "entry \"{}\": param \"{key}\" is not a number",
            entry.id
        ))
    })
}

fn note(entries: &[&Entry], study: &str) -> String {
    let provenances: std::collections::BTreeSet<Provenance> =
        entries.iter().map(|e| e.provenance).collect();
    let names: Vec<&str> = provenances.iter().map(|p| p.as_str()).collect();
    format!(
        "data/ledger.json, study {study}: {} entries, {}; each entry's command reproduces it",
        entries.len(),
        names.join(" + ")
    )
}

/// What a throughput comparison must not hide: where each number was taken.
fn fence(entries: &[&Entry]) -> String {
    let machines: std::collections::BTreeSet<&str> = entries
        .iter()
        .map(|e| e.machine.as_deref().unwrap_or("machine not recorded"))
        .collect();
    let list: Vec<&str> = machines.into_iter().collect();
    format!("measured on: {}", list.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decode entry of `study` for `engine`, as `harness throughput` writes it.
    fn decode(study: &str, engine: &str, value: f64) -> serde_json::Value {
        serde_json::json!({
            "id": format!("t.{study}.{}", engine.replace([' ', '.'], "_")),
            "title": "test",
            "value": value,
            "unit": "tokens/s",
            "provenance": "MODELED",
            "command": "cargo run -p fak-harness -- throughput",
            "params": { "study": study, "engine": engine },
        })
    }

    fn bars(name: &str, ledger: &Ledger) -> Vec<String> {
        let spec = CATALOG.iter().find(|s| s.name == name).unwrap();
        match spec.build(ledger, None).unwrap() {
            Some(Drawing::Bars(chart)) => chart.bars.into_iter().map(|b| b.label).collect(),
            other => panic!("{name}: expected bars, got {other:?}"),
        }
    }

    #[test]
    fn gemma3_throughput_bars_stay_out_of_the_default_checkpoints_figure() {
        let text = serde_json::json!({ "schema": 1, "entries": [
            decode("decode_throughput", "fak", 20.0),
            decode("decode_throughput", "llama.cpp bf16", 18.0),
            decode("decode_throughput.gemma3", "llama.cpp q4_k_m", 50.0),
        ]})
        .to_string();
        let ledger = Ledger::parse(&text, "test").unwrap();
        assert_eq!(
            bars("decode_throughput", &ledger),
            ["fak", "llama.cpp bf16"]
        );
        assert_eq!(
            bars("decode_throughput_gemma3", &ledger),
            ["llama.cpp q4_k_m"]
        );
    }
}
