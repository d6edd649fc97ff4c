//! How provenance shows in a figure: MEASURED solid, MODELED dashed, SIMULATED dotted, and
//! every non-measured series labelled as such, so no reader mistakes a model for a
//! measurement.

use plotters::style::{RGBColor, ShapeStyle};

use crate::ledger::Provenance;

/// Series colours, in order of first appearance (colour-blind-safe, Okabe and Ito).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

pub fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Dash and gap lengths in pixels; `None` for a solid line.
pub fn dash(provenance: Provenance) -> Option<(u32, u32)> {
    match provenance {
        Provenance::Measured => None,
        Provenance::Modeled => Some((10, 6)),
        Provenance::Simulated => Some((2, 5)),
    }
}

/// The suffix a legend entry carries.
pub fn legend_suffix(provenance: Provenance) -> &'static str {
    match provenance {
        Provenance::Measured => "",
        Provenance::Modeled => " (modeled)",
        Provenance::Simulated => " (simulated)",
    }
}

pub fn stroke(color: RGBColor) -> ShapeStyle {
    ShapeStyle {
        color: color.into(),
        filled: false,
        stroke_width: 2,
    }
}

/// The key printed under every chart.
pub const PROVENANCE_KEY: &str =
    "solid = MEASURED, dashed = MODELED, dotted = SIMULATED; hatched bars are not measured";

/// Diagonal hatch lines filling the rectangle (x0, y0)-(x1, y1), `step` pixels apart.
pub fn hatch(x0: i32, y0: i32, x1: i32, y1: i32, step: i32) -> Vec<[(i32, i32); 2]> {
    let mut lines = Vec::new();
    // Lines x + y = c, for c across the rectangle, clipped to it.
    let mut c = x0 + y0 + step;
    while c < x1 + y1 {
        let xa = x0.max(c - y1);
        let xb = x1.min(c - y0);
        if xa < xb {
            lines.push([(xa, c - xa), (xb, c - xb)]);
        }
        c += step;
    }
    lines
}
