//! What every picture shares: the drawing area's type, the font, the series' colours, and text
//! made safe for XML.

use plotters::prelude::*;

/// What the drawing functions return; plotters' errors carry its backend's type.
pub(super) type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;
pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

pub(super) const FONT: &str = "sans-serif";

/// Colours of the series, the same in every picture.
pub(super) const TRAIN: RGBColor = RGBColor(31, 119, 180);
pub(super) const DEV: RGBColor = RGBColor(230, 110, 0);
pub(super) const F1: RGBColor = RGBColor(44, 160, 44);

/// `text` without control characters, which XML cannot hold.
pub(super) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}
