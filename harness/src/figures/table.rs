//! A grid of numbers (the parity table: max|Δ| per gate and backend), zero cells marked
//! as exact.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::FigureError;
use super::font::FAMILY;
use super::line_chart::draw_footer;

#[derive(Debug, Clone, PartialEq)]
pub struct TableChart {
    pub title: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// cells[row][column]; `None` where no entry exists.
    pub cells: Vec<Vec<Option<f64>>>,
    pub note: String,
}

const MARGIN: i32 = 14;
const TITLE_HEIGHT: i32 = 50;
const ROW_LABEL_WIDTH: i32 = 330;
const ROW_HEIGHT: i32 = 30;
const FOOTER_HEIGHT: u32 = 52;

impl TableChart {
    /// Pixels the title, the column header, every row and the footer take.
    pub fn height(&self) -> u32 {
        (TITLE_HEIGHT + ROW_HEIGHT * (self.rows.len() as i32 + 1) + MARGIN) as u32 + FOOTER_HEIGHT
    }

    pub fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), FigureError> {
        let (width, height) = root.dim_in_pixel();
        root.fill(&WHITE).map_err(FigureError::draw)?;
        let (grid, footer) = root.split_vertically(height.saturating_sub(FOOTER_HEIGHT));
        let title = TextStyle::from((FAMILY, 20)).color(&BLACK);
        let text = TextStyle::from((FAMILY, 13)).color(&BLACK);
        grid.draw_text(&self.title, &title, (MARGIN, 14))
            .map_err(FigureError::draw)?;
        let columns = self.columns.len().max(1) as i32;
        let cell_width = (width as i32 - ROW_LABEL_WIDTH - 2 * MARGIN) / columns;
        for (c, column) in self.columns.iter().enumerate() {
            let x = MARGIN + ROW_LABEL_WIDTH + c as i32 * cell_width + 6;
            grid.draw_text(column, &text, (x, TITLE_HEIGHT))
                .map_err(FigureError::draw)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let y0 = TITLE_HEIGHT + ROW_HEIGHT + r as i32 * ROW_HEIGHT;
            grid.draw_text(row, &text, (MARGIN, y0 + 8))
                .map_err(FigureError::draw)?;
            for (c, value) in self.cells[r].iter().enumerate() {
                let x0 = MARGIN + ROW_LABEL_WIDTH + c as i32 * cell_width;
                let (label, color) = match value {
                    None => ("not run".to_string(), RGBColor(240, 240, 240)),
                    Some(v) if *v == 0.0 => ("0 (exact)".to_string(), RGBColor(183, 225, 205)),
                    Some(v) => (crate::number::plain(*v), RGBColor(245, 190, 180)),
                };
                grid.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell_width - 4, y0 + ROW_HEIGHT - 4)],
                    color.filled(),
                ))
                .map_err(FigureError::draw)?;
                grid.draw_text(&label, &text, (x0 + 6, y0 + 7))
                    .map_err(FigureError::draw)?;
            }
        }
        draw_footer(&footer, &self.note)
    }
}
