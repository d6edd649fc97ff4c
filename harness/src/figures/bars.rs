//! One bar per category (decode throughput per engine), with the fence that keeps the
//! comparison honest (machine, provenance) printed under it.

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::RangedCoordu32;
use plotters::prelude::*;

use crate::ledger::Provenance;

use super::FigureError;
use super::font::FAMILY;
use super::line_chart::draw_footer;
use super::style;

#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub bars: Vec<Bar>,
    /// The fence: what was measured where, and what the bars do not show.
    pub note: String,
}

const FOOTER_HEIGHT: u32 = 52;

/// One segment (and one tick) a bar, for bars 0..=last. An integer range is inclusive in
/// plotters, so `0..last` holds exactly last + 1 segments (`0..count` would add an empty
/// one, with its tick, at the right end).
fn x_axis(last: u32) -> SegmentedCoord<RangedCoordu32> {
    (0..last).into_segmented()
}
const HATCH_STEP: i32 = 7;

impl BarChart {
    pub fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), FigureError> {
        if let Some(bar) = self
            .bars
            .iter()
            .find(|b| b.value < 0.0 || !b.value.is_finite())
        {
            return Err(FigureError::Data(format!(
                "\"{}\": bar \"{}\" has value {}",
                self.title, bar.label, bar.value
            )));
        }
        let y_max = self
            .bars
            .iter()
            .map(|b| b.value)
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.15;
        root.fill(&WHITE).map_err(FigureError::draw)?;
        let height = root.dim_in_pixel().1;
        let (plot, footer) = root.split_vertically(height.saturating_sub(FOOTER_HEIGHT));
        let last = (self.bars.len() as u32).saturating_sub(1);
        let mut chart = ChartBuilder::on(&plot)
            .caption(&self.title, (FAMILY, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(84)
            .build_cartesian_2d(x_axis(last), 0.0..y_max)
            .map_err(FigureError::draw)?;
        let labels: Vec<String> = self
            .bars
            .iter()
            .map(|b| format!("{}{}", b.label, style::legend_suffix(b.provenance)))
            .collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|y| crate::number::compact(*y))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .draw()
            .map_err(FigureError::draw)?;
        for (i, bar) in self.bars.iter().enumerate() {
            let i = i as u32;
            let color = style::color(i as usize);
            let right = if i == last {
                SegmentValue::Last
            } else {
                SegmentValue::Exact(i + 1)
            };
            let corners = [(SegmentValue::Exact(i), 0.0), (right.clone(), bar.value)];
            let measured = bar.provenance == Provenance::Measured;
            let body = if measured {
                color.filled()
            } else {
                color.mix(0.25).filled()
            };
            let mut rect = Rectangle::new(corners, body);
            rect.set_margin(0, 0, 12, 12);
            chart
                .draw_series(std::iter::once(rect))
                .map_err(FigureError::draw)?;
            if !measured {
                // Hatch in backend pixels: the plot area sits at the root's origin.
                let (x0, y0) = chart.backend_coord(&(SegmentValue::Exact(i), bar.value));
                let (x1, y1) = chart.backend_coord(&(right, 0.0));
                for line in style::hatch(x0 + 12, y0, x1 - 12, y1, HATCH_STEP) {
                    root.draw(&PathElement::new(line.to_vec(), color))
                        .map_err(FigureError::draw)?;
                }
            }
        }
        draw_footer(&footer, &self.note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_x_axis_has_one_tick_a_bar() {
        for bars in [1u32, 2, 6] {
            let ticks: Vec<Option<u32>> = x_axis(bars - 1)
                .key_points(100)
                .into_iter()
                .map(|t| match t {
                    SegmentValue::CenterOf(i) => Some(i),
                    _ => None,
                })
                .collect();
            let expected: Vec<Option<u32>> = (0..bars).map(Some).collect();
            assert_eq!(ticks, expected, "{bars} bars");
        }
    }
}
