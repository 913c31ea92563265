//! Figures by epoch: loss, and accuracy with macro-F1, for train and dev, the kept epoch marked.

use super::canvas::{clean, Area, Drawn, DEV, F1, FONT, TRAIN};
use crate::train::{EpochRecord, TrainReport};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// One curve: its name in the legend, its colour, its value in an epoch, and whether it is a
/// dev figure (drawn only for a run with a dev set).
struct Curve {
    name: &'static str,
    color: RGBColor,
    value: fn(&EpochRecord) -> f64,
    dev: bool,
}

const LOSSES: [Curve; 2] = [
    Curve {
        name: "train loss",
        color: TRAIN,
        value: |r| r.train_loss,
        dev: false,
    },
    Curve {
        name: "dev loss",
        color: DEV,
        value: |r| r.dev_loss,
        dev: true,
    },
];

const ACCURACIES: [Curve; 3] = [
    Curve {
        name: "train accuracy",
        color: TRAIN,
        value: |r| r.train_accuracy,
        dev: false,
    },
    Curve {
        name: "dev accuracy",
        color: DEV,
        value: |r| r.dev_accuracy,
        dev: true,
    },
    Curve {
        name: "dev macro-F1",
        color: F1,
        value: |r| r.dev_macro_f1,
        dev: true,
    },
];

/// The curves the run has figures for.
fn shown<'c>(curves: &'c [Curve], report: &TrainReport) -> Vec<&'c Curve> {
    let dev = report.dev_examples > 0;
    curves.iter().filter(|c| dev || !c.dev).collect()
}

/// Train and dev loss by epoch, the legend above the curves.
pub(super) fn loss(area: &Area, report: &TrainReport) -> Drawn {
    let curves = shown(&LOSSES, report);
    let (low, high) = extent(report, &curves);
    let span = (high - low).max(0.02);
    let y = (low - 0.05 * span).max(0.0)..high + LEGEND_BAND * span;
    let legend = SeriesLabelPosition::UpperRight;
    chart(area, report, "loss", y, &curves, legend)
}

/// Train and dev accuracy and dev macro-F1 by epoch, the legend below the curves.
pub(super) fn accuracy(area: &Area, report: &TrainReport) -> Drawn {
    let curves = shown(&ACCURACIES, report);
    let (low, high) = extent(report, &curves);
    let span = (high - low).max(0.02);
    let y = (low - LEGEND_BAND * span).max(0.0)..(high + 0.05 * span).min(1.0);
    let y = if y.end - y.start < 0.02 { 0.0..1.0 } else { y };
    let legend = SeriesLabelPosition::LowerRight;
    chart(area, report, "accuracy", y, &curves, legend)
}

/// How much room, as a share of the curves' own span, the axis leaves for the legend.
const LEGEND_BAND: f64 = 0.8;

/// The lowest and the highest finite value of the curves (0 and 1 when there are none).
fn extent(report: &TrainReport, curves: &[&Curve]) -> (f64, f64) {
    let values = report
        .epochs
        .iter()
        .flat_map(|r| curves.iter().map(move |c| (c.value)(r)))
        .filter(|v| v.is_finite());
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if low.is_finite() {
        (low, high)
    } else {
        (0.0, 1.0)
    }
}

/// The curves against the epoch, with the kept epoch as a dashed vertical line.
fn chart(
    area: &Area,
    report: &TrainReport,
    what: &str,
    y: std::ops::Range<f64>,
    curves: &[&Curve],
    legend: SeriesLabelPosition,
) -> Drawn {
    // Enough decimals that ticks differ.
    let digits = (-((y.end - y.start) / Y_TICKS as f64).log10())
        .ceil()
        .clamp(2.0, 5.0) as usize;
    let last = report.epochs.last().map_or(1, |r| r.epoch).max(1) as f64;
    let first = report.epochs.first().map_or(1, |r| r.epoch) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{what} by epoch"), (FONT, 22.0))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(first - 0.5..last + 0.5, y.clone())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(what)
        .axis_desc_style((FONT, 18.0))
        .label_style((FONT, 15.0))
        .x_labels(epoch_ticks(first, last))
        .y_labels(Y_TICKS)
        .x_label_formatter(&|x| whole(*x))
        .y_label_formatter(&|v| format!("{v:.digits$}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let kept = report.best_epoch as f64;
    let mark = ShapeStyle::from(&BLACK.mix(0.45)).stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(
            [(kept, y.start), (kept, y.end)],
            6,
            4,
            mark,
        ))?
        .label(format!("kept epoch ({})", report.best_epoch))
        .legend(move |(x, y)| DashedPathElement::new([(x, y), (x + 20, y)], 5, 3, mark));
    for curve in curves {
        let points: Vec<(f64, f64)> = (report.epochs.iter())
            .map(|r| (r.epoch as f64, (curve.value)(r)))
            .filter(|(_, v)| v.is_finite())
            .collect();
        let style = ShapeStyle::from(&curve.color).stroke_width(3);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(clean(curve.name))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        chart.draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, 4, curve.color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(legend)
        .label_font((FONT, 15.0))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// At most this many ticks on the value axis.
const Y_TICKS: usize = 8;

/// How many ticks the epoch axis gets: every epoch up to 12, fewer beyond.
fn epoch_ticks(first: f64, last: f64) -> usize {
    ((last - first) as usize + 2).min(12)
}

/// An epoch tick's label: whole numbers only.
fn whole(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        String::new()
    }
}
