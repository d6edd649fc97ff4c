//! Curves on a linear x axis and a logarithmic y axis: turn-tax work against fleet size or
//! context length, excision cost against span position, prefix reuse against agent count.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::ledger::Provenance;

use super::FigureError;
use super::font::FAMILY;
use super::style;

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub label: String,
    pub provenance: Provenance,
    /// (x, y), x increasing.
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub curves: Vec<Curve>,
    /// Printed under the chart: where the numbers come from.
    pub note: String,
}

/// Room under the plot for the note and the provenance key, in pixels.
const FOOTER_HEIGHT: u32 = 52;

impl LineChart {
    pub fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), FigureError> {
        let points = || self.curves.iter().flat_map(|c| c.points.iter().copied());
        if let Some((x, y)) = points().find(|&(_, y)| y <= 0.0) {
            return Err(FigureError::Data(format!(
                "\"{}\": y = {y} at x = {x} cannot go on a logarithmic axis",
                self.title
            )));
        }
        let (x_min, x_max) = span(points().map(|p| p.0))
            .ok_or_else(|| FigureError::Data(format!("\"{}\": no points to draw", self.title)))?;
        let (y_min, y_max) = span(points().map(|p| p.1)).unwrap_or((1.0, 10.0));
        let x_pad = ((x_max - x_min) * 0.04).max(0.5);
        // A third of a decade of room above and below the data.
        let (y_lo, y_hi) = (y_min / 2.0, y_max * 2.0);

        root.fill(&WHITE).map_err(FigureError::draw)?;
        let height = root.dim_in_pixel().1;
        let (plot, footer) = root.split_vertically(height.saturating_sub(FOOTER_HEIGHT));
        let mut chart = ChartBuilder::on(&plot)
            .caption(&self.title, (FAMILY, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(84)
            .build_cartesian_2d((x_min - x_pad)..(x_max + x_pad), (y_lo..y_hi).log_scale())
            .map_err(FigureError::draw)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|x| crate::number::compact(*x))
            .y_label_formatter(&|y| crate::number::compact(*y))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .draw()
            .map_err(FigureError::draw)?;
        for (index, curve) in self.curves.iter().enumerate() {
            let color = style::color(index);
            let stroke = style::stroke(color);
            let label = format!("{}{}", curve.label, style::legend_suffix(curve.provenance));
            let drawn = match style::dash(curve.provenance) {
                None => chart
                    .draw_series(LineSeries::new(curve.points.iter().copied(), stroke))
                    .map_err(FigureError::draw)?,
                Some((dash, gap)) => chart
                    .draw_series(DashedLineSeries::new(
                        curve.points.iter().copied(),
                        dash,
                        gap,
                        stroke,
                    ))
                    .map_err(FigureError::draw)?,
            };
            drawn.label(label).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], style::stroke(color))
            });
            chart
                .draw_series(
                    curve
                        .points
                        .iter()
                        .map(|&p| Circle::new(p, 3, color.filled())),
                )
                .map_err(FigureError::draw)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 13))
            .draw()
            .map_err(FigureError::draw)?;
        draw_footer(&footer, &self.note)
    }
}

/// The note and the provenance key, one line each, under a chart.
pub fn draw_footer<DB: DrawingBackend>(
    footer: &DrawingArea<DB, Shift>,
    note: &str,
) -> Result<(), FigureError> {
    let text = TextStyle::from((FAMILY, 12)).color(&BLACK);
    footer
        .draw_text(note, &text, (14, 6))
        .map_err(FigureError::draw)?;
    footer
        .draw_text(style::PROVENANCE_KEY, &text, (14, 26))
        .map_err(FigureError::draw)?;
    Ok(())
}

fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}
