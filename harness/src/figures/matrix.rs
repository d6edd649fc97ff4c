//! The capability matrix: who can share a prefix, cut a middle span, prove exactness and
//! gate a tool call. fak's own unwitnessed claims are hatched and say so.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::capabilities::{Capabilities, OWN_SYSTEM, Status};

use super::FigureError;
use super::font::FAMILY;
use super::style;

const TITLE_HEIGHT: i32 = 50;
const ROW_LABEL_WIDTH: i32 = 170;
const HEADER_HEIGHT: i32 = 40;
const ROW_HEIGHT: i32 = 58;
const MARGIN: i32 = 14;
const HATCH_STEP: i32 = 9;

fn fill(status: Status) -> RGBColor {
    match status {
        Status::Yes => RGBColor(183, 225, 205),
        Status::Partial => RGBColor(252, 232, 178),
        Status::No => RGBColor(236, 236, 236),
        Status::Claimed => RGBColor(207, 226, 243),
    }
}

pub fn draw<DB: DrawingBackend>(
    caps: &Capabilities,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), FigureError> {
    let (width, _) = root.dim_in_pixel();
    let columns = caps.capabilities.len() as i32;
    let cell_width = (width as i32 - ROW_LABEL_WIDTH - 2 * MARGIN) / columns.max(1);
    let title = TextStyle::from((FAMILY, 20)).color(&BLACK);
    let header = TextStyle::from((FAMILY, 14)).color(&BLACK);
    let cell_text = TextStyle::from((FAMILY, 14)).color(&BLACK);
    let small = TextStyle::from((FAMILY, 12)).color(&BLACK);

    root.fill(&WHITE).map_err(FigureError::draw)?;
    root.draw_text(
        "Capabilities: fak against inference engines and API prompt caches",
        &title,
        (MARGIN, 14),
    )
    .map_err(FigureError::draw)?;
    let top = TITLE_HEIGHT;
    for (c, cap) in caps.capabilities.iter().enumerate() {
        let x = MARGIN + ROW_LABEL_WIDTH + c as i32 * cell_width + 8;
        root.draw_text(&cap.label, &header, (x, top + 12))
            .map_err(FigureError::draw)?;
    }
    for (r, system) in caps.systems.iter().enumerate() {
        let y0 = top + HEADER_HEIGHT + r as i32 * ROW_HEIGHT;
        root.draw_text(&system.name, &header, (MARGIN, y0 + ROW_HEIGHT / 2 - 8))
            .map_err(FigureError::draw)?;
        for (c, cap) in caps.capabilities.iter().enumerate() {
            let Some(cell) = system.cells.get(&cap.id) else {
                continue;
            };
            let x0 = MARGIN + ROW_LABEL_WIDTH + c as i32 * cell_width;
            let (x1, y1) = (x0 + cell_width - 4, y0 + ROW_HEIGHT - 4);
            root.draw(&Rectangle::new(
                [(x0, y0), (x1, y1)],
                fill(cell.status).filled(),
            ))
            .map_err(FigureError::draw)?;
            if cell.status == Status::Claimed {
                for line in style::hatch(x0, y0, x1, y1, HATCH_STEP) {
                    root.draw(&PathElement::new(line.to_vec(), RGBColor(120, 160, 200)))
                        .map_err(FigureError::draw)?;
                }
            }
            let label = match (cell.status, system.name == OWN_SYSTEM) {
                (Status::Yes, true) => "yes (witnessed)",
                (status, _) => status.label(),
            };
            root.draw_text(label, &cell_text, (x0 + 8, y0 + ROW_HEIGHT / 2 - 8))
                .map_err(FigureError::draw)?;
        }
    }
    let foot = top + HEADER_HEIGHT + caps.systems.len() as i32 * ROW_HEIGHT + 10;
    for (i, line) in [
        "hatched \"claimed\": fak's own claim, still to be witnessed by a test (see CLAIMS.md)",
        "peers: from their public documentation; notes per cell in data/capabilities.json",
    ]
    .iter()
    .enumerate()
    {
        root.draw_text(line, &small, (MARGIN, foot + 18 * i as i32))
            .map_err(FigureError::draw)?;
    }
    Ok(())
}
