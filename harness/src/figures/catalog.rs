//! Every figure the project publishes and which ledger entries it is drawn from. A figure
//! whose entries are not in the ledger yet is not drawn, and says which study it waits for;
//! adding the entries (with `harness ledger add`) is all it takes to draw it.

use std::collections::BTreeMap;

use crate::capabilities::Capabilities;
use crate::ledger::{Entry, Ledger, Param, Provenance};

use super::FigureError;
use super::bars::{Bar, BarChart};
use super::line_chart::{Curve, LineChart};
use super::table::TableChart;

/// Where a figure's data comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// data/capabilities.json.
    Capabilities,
    /// Each entry of the study is one point: x from param `x`, one curve per value of
    /// param `group`.
    Points {
        study: &'static str,
        x: &'static str,
        group: &'static str,
        x_label: &'static str,
        y_label: &'static str,
    },
    /// Each entry of the study is one curve (its `series`), labelled by param `group`.
    Series {
        study: &'static str,
        group: &'static str,
        y_label: &'static str,
    },
    /// Each entry is one bar, labelled by param `category`.
    Bars {
        study: &'static str,
        category: &'static str,
        y_label: &'static str,
    },
    /// Each entry is one cell: row from param `row`, column from param `column`.
    Table {
        study: &'static str,
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
        source: Source::Points {
            study: "turntax.compat.prefill",
            x: "workers",
            group: "policy",
            x_label: "agents per task",
            y_label: "prefilled tokens",
        },
    },
    Spec {
        name: "turn_tax_fleet_measured",
        title: "Turn tax: prefill work against fleet size (recorded trajectories)",
        source: Source::Points {
            study: "turntax.measured.prefill",
            x: "workers",
            group: "policy",
            x_label: "agents per task",
            y_label: "prefilled tokens",
        },
    },
    Spec {
        name: "turn_tax_context_compat",
        title: "Turn tax: cumulative prefill against context length (published geometry)",
        source: Source::Series {
            study: "turntax.compat.context",
            group: "policy",
            y_label: "cumulative prefilled tokens",
        },
    },
    Spec {
        name: "turn_tax_context_measured",
        title: "Turn tax: cumulative prefill by turn (longest recorded trajectory)",
        source: Source::Series {
            study: "turntax.measured.context",
            group: "policy",
            y_label: "cumulative prefilled tokens",
        },
    },
    Spec {
        name: "excision_cost",
        title: "Excision cost against span position",
        source: Source::Points {
            study: "excision.cost",
            x: "span_position",
            group: "arm",
            x_label: "span start (tokens into the context)",
            y_label: "recomputed tokens",
        },
    },
    Spec {
        name: "prefix_reuse",
        title: "Prefix reuse against agent count",
        source: Source::Points {
            study: "prefix_reuse",
            x: "agents",
            group: "policy",
            x_label: "agents sharing the prefix",
            y_label: "prefilled tokens",
        },
    },
    Spec {
        name: "decode_throughput",
        title: "Decode throughput against peers",
        source: Source::Bars {
            study: "decode_throughput",
            category: "engine",
            y_label: "decoded tokens per second",
        },
    },
    Spec {
        name: "parity_table",
        title: "Parity gates: max|delta| against the CPU reference",
        source: Source::Table {
            study: "parity",
            row: "gate",
            column: "backend",
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
            Source::Points { study, .. }
            | Source::Series { study, .. }
            | Source::Bars { study, .. }
            | Source::Table { study, .. } => format!("study \"{study}\""),
        }
    }

    /// The drawing, or `None` when the ledger holds no entries for it yet.
    pub fn build(
        &self,
        ledger: &Ledger,
        capabilities: Option<&Capabilities>,
    ) -> Result<Option<Drawing>, FigureError> {
        let entries = |study: &str| ledger.study(study);
        let drawing = match self.source {
            Source::Capabilities => capabilities.cloned().map(Drawing::Capabilities),
            Source::Points {
                study,
                x,
                group,
                x_label,
                y_label,
            } => {
                let found = entries(study);
                if found.is_empty() {
                    return Ok(None);
                }
                let unit = one_unit(&found, study)?;
                let mut curves: Vec<Curve> = Vec::new();
                for e in &found {
                    let label = text_param(e, group)?;
                    let xv = number_param(e, x)?;
                    let curve = curve_for(&mut curves, &label, e.provenance);
                    curve.points.push((xv, e.value));
                }
                for c in &mut curves {
                    c.points.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
                Some(Drawing::Lines(LineChart {
                    title: self.title.to_string(),
                    x_label: x_label.to_string(),
                    y_label: format!("{y_label} ({unit}, log scale)"),
                    curves,
                    note: note(&found, study),
                }))
            }
            Source::Series {
                study,
                group,
                y_label,
            } => {
                let found = entries(study);
                if found.is_empty() {
                    return Ok(None);
                }
                let unit = one_unit(&found, study)?;
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
                Some(Drawing::Lines(LineChart {
                    title: self.title.to_string(),
                    x_label: format!("{x_label} ({x_unit})"),
                    y_label: format!("{y_label} ({unit}, log scale)"),
                    curves,
                    note: note(&found, study),
                }))
            }
            Source::Bars {
                study,
                category,
                y_label,
            } => {
                let found = entries(study);
                if found.is_empty() {
                    return Ok(None);
                }
                let unit = one_unit(&found, study)?;
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
                Some(Drawing::Bars(BarChart {
                    title: self.title.to_string(),
                    y_label: format!("{y_label} ({unit})"),
                    bars,
                    note: fence(&found),
                }))
            }
            Source::Table { study, row, column } => {
                let found = entries(study);
                if found.is_empty() {
                    return Ok(None);
                }
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
                Some(Drawing::Table(TableChart {
                    title: self.title.to_string(),
                    rows,
                    columns,
                    cells,
                    note: note(&found, study),
                }))
            }
        };
        Ok(drawing)
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

/// A param as a legend label: `private_kv` reads "private kv".
fn text_param(entry: &Entry, key: &str) -> Result<String, FigureError> {
    Ok(param(entry, key)?.to_string().replace('_', " "))
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
