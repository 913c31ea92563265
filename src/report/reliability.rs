//! The reliability diagram: per confidence bin, how often the model is right, against the
//! diagonal a perfectly calibrated model would follow; each bar says how many predictions it
//! holds.

use super::canvas::{Area, Drawn, DEV, FONT, TRAIN};
use crate::calibration::Calibration;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(super) fn draw(area: &Area, c: &Calibration) -> Drawn {
    let mut chart = ChartBuilder::on(area)
        .caption(format!("reliability (ECE {:.4})", c.ece), (FONT, 22.0))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64)?;
    chart
        .configure_mesh()
        .x_desc("confidence (probability of the predicted label)")
        .y_desc("accuracy")
        .axis_desc_style((FONT, 18.0))
        .label_style((FONT, 15.0))
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let filled = c.bins.iter().filter(|b| b.count > 0);
    let bar = TRAIN.mix(0.55).filled();
    chart
        .draw_series(
            filled.clone().map(|b| {
                Rectangle::new([(b.lower + 0.004, 0.0), (b.upper - 0.004, b.accuracy)], bar)
            }),
        )?
        .label("accuracy per bin (count at its foot)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], bar));
    let count_style = TextStyle::from((FONT, 14.0)).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(filled.clone().map(|b| {
        let at = ((b.lower + b.upper) / 2.0, 0.015);
        Text::new(b.count.to_string(), at, count_style.clone())
    }))?;
    chart
        .draw_series(filled.map(|b| Circle::new((b.confidence, b.accuracy), 4, DEV.filled())))?
        .label("mean confidence per bin")
        .legend(|(x, y)| Circle::new((x + 10, y), 4, DEV.filled()));
    let diagonal = ShapeStyle::from(&BLACK.mix(0.6)).stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            6,
            4,
            diagonal,
        ))?
        .label("perfectly calibrated")
        .legend(move |(x, y)| DashedPathElement::new([(x, y), (x + 20, y)], 5, 3, diagonal));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 15.0))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}
