//! figures/: every figure drawn from data/ledger.json (and data/capabilities.json), as SVG
//! (plotters) and PNG (that SVG rasterized with the embedded font), so regenerating gives
//! the same bytes and `--check` can catch a committed figure that no longer matches its
//! data.

mod bars;
mod catalog;
mod font;
mod line_chart;
mod matrix;
mod style;
mod table;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plotters::coord::Shift;
use plotters::prelude::*;
use resvg::tiny_skia;
use resvg::usvg::{self, fontdb};

use crate::capabilities::Capabilities;
use crate::ledger::Ledger;

pub use catalog::{CATALOG, Drawing, Spec};

/// The figures directory inside the repository.
pub const FIGURES_DIR: &str = "figures";

/// Pixel size of every figure.
pub const SIZE: (u32, u32) = (960, 560);

#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    #[error("cannot draw: {0}")]
    Draw(String),
    #[error("cannot draw from the ledger: {0}")]
    Data(String),
    #[error("cannot rasterize PNG: {0}")]
    Png(String),
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
}

impl FigureError {
    fn draw<E: std::fmt::Display>(e: E) -> Self {
        FigureError::Draw(e.to_string())
    }
}

/// One figure's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub name: &'static str,
    pub svg: String,
    pub png: Vec<u8>,
}

/// What `figures` produced: the drawn figures and, for each one not drawn, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub drawn: Vec<Rendered>,
    pub absent: Vec<(&'static str, String)>,
}

/// Draws every figure of the catalog whose data exists.
pub fn render_all(
    ledger: &Ledger,
    capabilities: Option<&Capabilities>,
) -> Result<Outcome, FigureError> {
    let fonts = font::database();
    let mut outcome = Outcome {
        drawn: Vec::new(),
        absent: Vec::new(),
    };
    for spec in CATALOG {
        match spec.build(ledger, capabilities)? {
            Some(drawing) => {
                let svg = svg(&drawing)?;
                let png = png(&svg, &fonts)?;
                outcome.drawn.push(Rendered {
                    name: spec.name,
                    svg,
                    png,
                });
            }
            None => outcome.absent.push((
                spec.name,
                format!("no entries yet for {}", spec.source_name()),
            )),
        }
    }
    Ok(outcome)
}

fn draw<DB: DrawingBackend>(
    drawing: &Drawing,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), FigureError> {
    match drawing {
        Drawing::Capabilities(caps) => matrix::draw(caps, root),
        Drawing::Lines(chart) => chart.draw(root),
        Drawing::Bars(chart) => chart.draw(root),
        Drawing::Table(chart) => chart.draw(root),
    }?;
    root.present().map_err(FigureError::draw)
}

/// The canvas of a figure: [`SIZE`], taller for a table with more rows than fit.
fn size_of(drawing: &Drawing) -> (u32, u32) {
    match drawing {
        Drawing::Table(chart) => (SIZE.0, SIZE.1.max(chart.height())),
        _ => SIZE,
    }
}

fn svg(drawing: &Drawing) -> Result<String, FigureError> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size_of(drawing)).into_drawing_area();
        draw(drawing, &root)?;
    }
    Ok(text)
}

/// Rasterizes a figure's SVG with the embedded font only.
fn png(svg: &str, fonts: &Arc<fontdb::Database>) -> Result<Vec<u8>, FigureError> {
    let options = usvg::Options {
        fontdb: Arc::clone(fonts),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| FigureError::Png(e.to_string()))?;
    let size = tree.size().to_int_size();
    let (w, h) = (size.width(), size.height());
    let mut pixmap = tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| FigureError::Png(format!("cannot allocate {w}x{h} pixels")))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|e| FigureError::Png(e.to_string()))
}

/// The file names a figure occupies.
pub fn files_of(name: &str) -> [String; 2] {
    [format!("{name}.svg"), format!("{name}.png")]
}

/// Writes the drawn figures into `dir` and removes the files of catalog figures that are
/// no longer drawn (their entries left the ledger).
pub fn write(outcome: &Outcome, dir: &Path) -> Result<(), FigureError> {
    let io = |path: &Path| {
        let file = path.display().to_string();
        move |source| FigureError::Io { file, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for r in &outcome.drawn {
        let [svg_name, png_name] = files_of(r.name);
        let (svg_path, png_path) = (dir.join(svg_name), dir.join(png_name));
        std::fs::write(&svg_path, &r.svg).map_err(io(&svg_path))?;
        std::fs::write(&png_path, &r.png).map_err(io(&png_path))?;
    }
    for (name, _) in &outcome.absent {
        for file in files_of(name) {
            let path = dir.join(file);
            if path.exists() {
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
        }
    }
    Ok(())
}

/// Regenerates into a temporary directory and lists every file of `dir` that differs
/// from it, is missing, or should no longer exist. Empty when nothing drifted.
pub fn check(outcome: &Outcome, dir: &Path) -> Result<Vec<PathBuf>, FigureError> {
    let scratch = tempfile::tempdir().map_err(|source| FigureError::Io {
        file: "a temporary directory".to_string(),
        source,
    })?;
    write(outcome, scratch.path())?;
    let mut drifted = Vec::new();
    for spec in CATALOG {
        for file in files_of(spec.name) {
            let fresh = std::fs::read(scratch.path().join(&file)).ok();
            let committed = std::fs::read(dir.join(&file)).ok();
            if fresh != committed {
                drifted.push(dir.join(&file));
            }
        }
    }
    Ok(drifted)
}
