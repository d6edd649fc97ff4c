//! The one font every figure uses, compiled into the binary so a PNG comes out the same
//! bytes on any machine (DejaVu Sans; its licence is in harness/assets/fonts/LICENSE).

use std::sync::OnceLock;

use plotters::style::FontStyle;

/// The family name figures ask for; SVG files name it, PNGs are rasterized with the
/// embedded font registered under it.
pub const FAMILY: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font (once per process).
pub fn ensure_registered() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded DejaVu Sans font does not parse".to_string())
        })
        .clone()
}
