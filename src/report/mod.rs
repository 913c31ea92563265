//! Pictures of a model's figures, as SVG: the training report (loss and accuracy by epoch with
//! the kept epoch marked, and the dev confusion matrix) and the evaluation plot (the confusion
//! matrix and a reliability diagram). Drawn with plotters' SVG backend: text stays text, for
//! the viewer to render, so no fonts or system libraries are needed.

mod canvas;
mod confusion;
mod curves;
mod reliability;

use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::train::TrainReport;
use canvas::{clean, Area, Drawn, FONT};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The training report a model directory holds beside its model, as JSON.
pub const TRAINING_FILE: &str = "training.json";
/// The picture of [`TRAINING_FILE`], as drawn by [`training_svg`].
pub const REPORT_FILE: &str = "report.svg";

const WIDTH: u32 = 1000;
const TITLE_FONT: f64 = 26.0;

/// The training report as an SVG picture: loss and accuracy curves for train and dev with the
/// kept epoch marked, and the kept epoch's dev confusion matrix.
pub fn training_svg(report: &TrainReport) -> Result<String> {
    let title = training_title(report);
    let mut summary = summary_lines(report);
    if report.dev_confusion.is_none() {
        summary.push(match report.dev_examples {
            0 => "no dev set, so no confusion matrix".to_string(),
            _ => "no confusion matrix recorded".to_string(),
        });
    }
    let height = match report.dev_confusion {
        Some(_) => 900,
        None => 40 + 440 + LINE_TOP + LINE_HEIGHT * summary.len() as u32 + 10,
    };
    draw(&title, height, |body| {
        let (top, bottom) = body.split_vertically(440);
        let (loss, accuracy) = top.split_horizontally(WIDTH / 2);
        curves::loss(&loss, report)?;
        curves::accuracy(&accuracy, report)?;
        match &report.dev_confusion {
            Some(m) => {
                let (matrix, right) = bottom.split_horizontally(WIDTH / 2);
                confusion::draw(&matrix, "dev confusion matrix (kept epoch)", m)?;
                lines(&right, &summary)
            }
            None => lines(&bottom, &summary),
        }
    })
}

/// An evaluation as an SVG picture: its confusion matrix and, where it has one, its reliability
/// diagram.
pub fn evaluation_svg(eval: &Evaluation) -> Result<String> {
    let mut title = format!(
        "evaluation: accuracy {:.4}, macro-F1 {:.4}, n = {}",
        eval.accuracy, eval.macro_f1, eval.n
    );
    if let Some(c) = &eval.calibration {
        title.push_str(&format!(", ECE {:.4}", c.ece));
    }
    draw(&title, 540, |body| {
        let (left, right) = body.split_horizontally(WIDTH / 2);
        match eval.confusion_matrix() {
            Some(m) => confusion::draw(&left, "confusion matrix", &m)?,
            None => note(&left, "no confusion matrix (too many labels)")?,
        }
        match &eval.calibration {
            Some(c) => reliability::draw(&right, c),
            None => note(&right, "no reliability diagram (no probabilities)"),
        }
    })
}

/// The training report as the text of [`TRAINING_FILE`].
pub fn training_json(report: &TrainReport) -> Result<String> {
    serde_json::to_string_pretty(report)
        .map_err(|e| Error::Config(format!("cannot write the training report: {e}")))
}

fn training_title(report: &TrainReport) -> String {
    let kept = if report.dev_examples > 0 {
        format!(
            ": dev accuracy {:.4}, macro-F1 {:.4}",
            report.dev_accuracy, report.dev_macro_f1
        )
    } else {
        " (the last: no dev set)".to_string()
    };
    format!("training report, kept epoch {}{kept}", report.best_epoch)
}

/// The run in a few lines of text: data, model, optimizer, and how it ended. Timings stay out,
/// so that the same run draws the same picture on any machine.
fn summary_lines(report: &TrainReport) -> Vec<String> {
    let c = &report.config;
    let mut lines = vec![
        format!(
            "{} training and {} dev examples",
            report.train_examples, report.dev_examples
        ),
        format!(
            "{}, {} layer(s), hidden {}{}, pooling {}",
            c.cell,
            c.num_layers,
            c.hidden_size,
            if c.bidirectional {
                ", both directions"
            } else {
                ""
            },
            c.pooling
        ),
        format!("word vectors {}, dropout {}", c.embedding_dim, c.dropout),
        format!(
            "learning rate {} ({}), batch {}",
            c.lr, c.lr_schedule, c.batch_size
        ),
        format!(
            "{} epoch(s) of {} planned",
            report.epochs.len(),
            c.max_epochs()
        ),
    ];
    let ended_early = report.epochs.len() < c.max_epochs() && c.patience > 0;
    if ended_early && !report.interrupted && report.diverged.is_none() {
        lines.push(format!(
            "stopped: no better dev accuracy for {} epoch(s)",
            c.patience
        ));
    }
    if report.interrupted {
        lines.push("interrupted before its last epoch".to_string());
    }
    if let Some(d) = &report.diverged {
        lines.push(format!("diverged at epoch {}, step {}", d.epoch, d.step));
    }
    lines
}

const LINE_TOP: u32 = 40;
const LINE_HEIGHT: u32 = 26;

/// Lines of text, top left.
fn lines(area: &Area, lines: &[String]) -> Drawn {
    let style = TextStyle::from((FONT, 17.0)).pos(Pos::new(HPos::Left, VPos::Top));
    for (i, line) in (0..).zip(lines) {
        let y = LINE_TOP + LINE_HEIGHT * i;
        area.draw_text(&clean(line), &style, (30, y as i32))?;
    }
    Ok(())
}

/// A white picture `height` pixels high with `title` on top; `body` draws below it.
fn draw(title: &str, height: u32, body: impl FnOnce(&Area) -> Drawn) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let drawn = root.fill(&WHITE).map_err(Into::into).and_then(|()| {
            let body_area = root.titled(&clean(title), (FONT, TITLE_FONT))?;
            body(&body_area)?;
            root.present()?;
            Ok(())
        });
        drawn.map_err(|e: Box<dyn std::error::Error>| Error::Plot(e.to_string()))?;
    }
    Ok(svg)
}

/// A line of text in place of a plot that cannot be drawn.
fn note(area: &Area, text: &str) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    let style = TextStyle::from((FONT, 18.0)).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(text, &style, (w as i32 / 2, h as i32 / 2))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::Calibration;
    use crate::metrics::ConfusionMatrix;
    use crate::train::{EpochRecord, TrainConfig};

    fn report(labels: &[&str]) -> TrainReport {
        let epochs = (1..=3)
            .map(|epoch| EpochRecord {
                epoch,
                train_loss: 1.0 / epoch as f64,
                train_accuracy: 0.5 + 0.1 * epoch as f64,
                dev_loss: 0.8,
                dev_accuracy: 0.6,
                dev_macro_f1: 0.55,
                seconds: 1.0,
                tokens_per_second: 1000.0,
                lr: 1e-3,
                best: epoch == 2,
            })
            .collect();
        let k = labels.len();
        TrainReport {
            config: TrainConfig::default(),
            train_examples: 10,
            dev_examples: 5,
            epochs,
            best_epoch: 2,
            dev_accuracy: 0.6,
            dev_macro_f1: 0.55,
            seconds: 3.0,
            interrupted: false,
            diverged: None,
            dev_confusion: Some(ConfusionMatrix {
                labels: labels.iter().map(|l| l.to_string()).collect(),
                counts: (0..k).map(|i| (0..k).map(|j| i + j).collect()).collect(),
            }),
            self_training: None,
        }
    }

    fn texts(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or_default().trim().to_string())
            .collect()
    }

    #[test]
    fn labels_with_markup_and_control_characters_stay_valid_svg() {
        let svg = training_svg(&report(&["<b>&\"x\"", "tab\there", "ok"])).unwrap();
        let texts = texts(&svg);
        assert!(texts.iter().any(|t| t == "<b>&\"x\""), "{texts:?}");
        assert!(texts.iter().any(|t| t == "tab\u{fffd}here"), "{texts:?}");
    }

    #[test]
    fn the_report_round_trips_through_its_json() {
        let report = report(&["a", "b"]);
        let read: TrainReport = serde_json::from_str(&training_json(&report).unwrap()).unwrap();
        assert_eq!(training_svg(&read).unwrap(), training_svg(&report).unwrap());
        assert_eq!(read.dev_confusion, report.dev_confusion);
    }

    #[test]
    fn an_evaluation_draws_its_matrix_and_its_reliability() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        let eval = Evaluation::from_predictions(&labels, &[0, 1, 1], &[0, 1, 0]).unwrap();
        let calibration =
            Calibration::from_predictions(&[0.9, 0.8, 0.7], &[true, true, false]).unwrap();
        let texts = texts(&evaluation_svg(&eval.with_calibration(calibration)).unwrap());
        for want in ["confusion matrix", "perfectly calibrated", "neg", "pos"] {
            assert!(texts.iter().any(|t| t == want), "no {want} in {texts:?}");
        }
    }
}
