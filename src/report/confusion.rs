//! A confusion matrix as a grid: gold labels down the side, predicted labels along the bottom,
//! each cell shaded by its share of the gold label's examples (so rare labels read as clearly
//! as common ones) and showing its count.

use super::canvas::{clean, Area, Drawn, FONT};
use crate::metrics::ConfusionMatrix;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Labels longer than this are shortened with an ellipsis.
const LABEL_CHARS: usize = 14;
const LABEL_FONT: f64 = 15.0;
/// Roughly how wide a character of [`LABEL_FONT`] is, in pixels.
const CHAR_WIDTH: i32 = 8;
/// Cells narrower than this show no count, and labels narrower than this are left out.
const MIN_TEXT_CELL: i32 = 16;
const SHADE: RGBColor = RGBColor(31, 119, 180);

pub(super) fn draw(area: &Area, title: &str, m: &ConfusionMatrix) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let k = m.labels.len().max(1) as i32;
    let labels: Vec<String> = m.labels.iter().map(|l| short(l)).collect();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as i32;
    let label_width = longest * CHAR_WIDTH + 10;
    // Row labels and the "gold" title on the left; column labels and "predicted" below.
    let left = 30 + label_width;
    let top = 40;
    let fits_across = |cell: i32| label_width <= cell;
    let mut cell = ((w - left - 20) / k).min((h - top - 60) / k).max(1);
    let below = if fits_across(cell) {
        30
    } else {
        label_width + 10
    };
    cell = cell.min((h - top - below - 30) / k).max(1);
    let across = fits_across(cell);
    let origin = (left, top);

    let title_style = TextStyle::from((FONT, 22.0)).pos(Pos::new(HPos::Center, VPos::Top));
    area.draw_text(&clean(title), &title_style, (w / 2, 4))?;
    for (i, row) in m.counts.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        for (j, &count) in row.iter().enumerate() {
            let share = count as f64 / total;
            let x = origin.0 + j as i32 * cell;
            let y = origin.1 + i as i32 * cell;
            area.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                shade(share).filled(),
            ))?;
            if cell >= MIN_TEXT_CELL {
                let ink = if share > 0.55 { WHITE } else { BLACK };
                let size = (f64::from(cell) * 0.5).clamp(11.0, 22.0);
                let style = TextStyle::from((FONT, size))
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                area.draw_text(&count.to_string(), &style, (x + cell / 2, y + cell / 2))?;
            }
        }
    }
    let grid = [origin, (origin.0 + k * cell, origin.1 + k * cell)];
    area.draw(&Rectangle::new(grid, BLACK.mix(0.5)))?;
    if cell >= MIN_TEXT_CELL / 2 {
        draw_labels(area, &labels, origin, cell, across)?;
    }
    let axis = TextStyle::from((FONT, 18.0)).pos(Pos::new(HPos::Center, VPos::Center));
    let bottom = origin.1 + k * cell + below + 14;
    area.draw_text("predicted", &axis, (origin.0 + k * cell / 2, bottom))?;
    let gold = axis.transform(FontTransform::Rotate270);
    area.draw_text("gold", &gold, (14, origin.1 + k * cell / 2))?;
    Ok(())
}

/// Row labels to the left of the grid; column labels below it, across or, where they do not
/// fit, upright.
fn draw_labels(
    area: &Area,
    labels: &[String],
    origin: (i32, i32),
    cell: i32,
    across: bool,
) -> Drawn {
    let k = labels.len() as i32;
    let row_style = TextStyle::from((FONT, LABEL_FONT)).pos(Pos::new(HPos::Right, VPos::Center));
    let column_style = if across {
        TextStyle::from((FONT, LABEL_FONT)).pos(Pos::new(HPos::Center, VPos::Top))
    } else {
        TextStyle::from((FONT, LABEL_FONT))
            .pos(Pos::new(HPos::Right, VPos::Center))
            .transform(FontTransform::Rotate270)
    };
    for (i, label) in labels.iter().enumerate() {
        let middle = i as i32 * cell + cell / 2;
        area.draw_text(label, &row_style, (origin.0 - 6, origin.1 + middle))?;
        let below = (origin.0 + middle, origin.1 + k * cell + 6);
        area.draw_text(label, &column_style, below)?;
    }
    Ok(())
}

/// White for none of the row, [`SHADE`] for all of it.
fn shade(share: f64) -> RGBColor {
    let mix = |c: u8| (255.0 - (255.0 - f64::from(c)) * share.clamp(0.0, 1.0)).round() as u8;
    RGBColor(mix(SHADE.0), mix(SHADE.1), mix(SHADE.2))
}

fn short(label: &str) -> String {
    let label = clean(label);
    if label.chars().count() <= LABEL_CHARS {
        label
    } else {
        let kept: String = label.chars().take(LABEL_CHARS - 1).collect();
        format!("{kept}…")
    }
}
