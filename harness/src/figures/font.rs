//! The one font every figure uses, compiled into the binary so a PNG comes out the same
//! bytes on any machine (DejaVu Sans; its licence is in harness/assets/fonts/LICENSE).
//!
//! plotters lays the charts out as SVG; the PNG is that SVG rasterized by resvg with a
//! font database holding only this font, so no system font can change a pixel.

use std::sync::Arc;

use resvg::usvg::fontdb;

/// The family name figures ask for; the SVG files name it.
pub const FAMILY: &str = "sans-serif";

/// The embedded font's own family name, which `FAMILY` resolves to when rasterizing.
const EMBEDDED_FAMILY: &str = "DejaVu Sans";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// A font database with the embedded font as the only font and the sans-serif default.
pub fn database() -> Arc<fontdb::Database> {
    let mut db = fontdb::Database::new();
    db.load_font_data(FONT_BYTES.to_vec());
    db.set_sans_serif_family(EMBEDDED_FAMILY);
    Arc::new(db)
}
