//! Evaluation figures: accuracy, per-label precision/recall/F1, macro-F1, the confusion matrix
//! and (from probabilities) calibration, plus a plain-text report of them.

use crate::calibration::{Calibration, CALIBRATION_BINS};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write;

/// Precision, recall and F1 of one label, with its number of gold examples.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct LabelMetrics {
    /// The label these figures are about.
    pub label: String,
    /// Correct predictions of the label / all predictions of it (0.0 if never predicted).
    pub precision: f64,
    /// Correct predictions of the label / its gold examples (0.0 if it has none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0.0 if both are 0.0).
    pub f1: f64,
    /// Number of gold examples with this label.
    pub support: usize,
}

/// The evaluation of a classifier on `n` examples.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Evaluation {
    /// Number of examples evaluated.
    pub n: usize,
    /// Fraction of examples predicted correctly (0.0 when `n` is 0).
    pub accuracy: f64,
    /// Mean F1 over the labels that occur in the gold or the predicted labels.
    pub macro_f1: f64,
    /// The label names; indices in `per_label` and `confusion` refer to this order.
    pub labels: Vec<String>,
    /// Figures for each label, in the order of `labels`.
    pub per_label: Vec<LabelMetrics>,
    /// `confusion[gold][predicted]`, indexed like `labels`; empty above
    /// [`CONFUSION_MATRIX_MAX_LABELS`] labels, where the matrix would grow with their square
    /// (see `top_confusions`).
    pub confusion: Vec<Vec<usize>>,
    /// The most frequent mistakes, most frequent first (ties in label order), at most
    /// [`TOP_CONFUSIONS`].
    pub top_confusions: Vec<Confusion>,
    /// Confidence against accuracy, where the evaluation had the probabilities (see
    /// [`Evaluation::with_calibration`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

/// A confusion matrix with the labels its rows and columns stand for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub labels: Vec<String>,
    /// `counts[gold][predicted]`, indexed like `labels`.
    pub counts: Vec<Vec<usize>>,
}

/// One kind of mistake: examples of `gold` predicted as `predicted`.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Confusion {
    pub gold: String,
    pub predicted: String,
    pub count: usize,
}

/// The most labels for which [`Evaluation::confusion`] holds the whole matrix.
pub const CONFUSION_MATRIX_MAX_LABELS: usize = 200;

/// How many mistakes [`Evaluation::top_confusions`] lists.
pub const TOP_CONFUSIONS: usize = 20;

impl Evaluation {
    /// Computes the figures from `gold` and `predicted`, both indices into `labels`.
    ///
    /// Never panics: mismatched lengths or an index outside `labels` return
    /// [`Error::Config`].
    pub fn from_predictions(
        labels: &[String],
        gold: &[usize],
        predicted: &[usize],
    ) -> Result<Self> {
        if gold.len() != predicted.len() {
            return Err(Error::Config(format!(
                "{} gold labels but {} predictions",
                gold.len(),
                predicted.len()
            )));
        }
        let k = labels.len();
        if let Some((i, (&g, &p))) = gold
            .iter()
            .zip(predicted)
            .enumerate()
            .find(|(_, (&g, &p))| g >= k || p >= k)
        {
            return Err(Error::Config(format!(
                "example {i}: label index {} is out of range for {k} labels",
                g.max(p)
            )));
        }
        // Per-label counts and the mistakes as pairs: memory linear in labels and examples.
        let (mut tp, mut support, mut predicted_count) = (vec![0; k], vec![0; k], vec![0; k]);
        let mut mistakes: HashMap<(usize, usize), usize> = HashMap::new();
        for (&g, &p) in gold.iter().zip(predicted) {
            support[g] += 1;
            predicted_count[p] += 1;
            if g == p {
                tp[g] += 1;
            } else {
                *mistakes.entry((g, p)).or_default() += 1;
            }
        }
        let per_label: Vec<LabelMetrics> = (0..k)
            .map(|i| label_metrics(&labels[i], tp[i], support[i], predicted_count[i]))
            .collect();
        // A label absent from both gold and predictions has no meaningful F1; counting it as 0
        // would punish an evaluation set for not covering every class.
        let present: Vec<f64> = (0..k)
            .filter(|&i| support[i] > 0 || predicted_count[i] > 0)
            .map(|i| per_label[i].f1)
            .collect();
        let confusion = if k <= CONFUSION_MATRIX_MAX_LABELS {
            let mut matrix = vec![vec![0usize; k]; k];
            for i in 0..k {
                matrix[i][i] = tp[i];
            }
            for (&(g, p), &count) in &mistakes {
                matrix[g][p] = count;
            }
            matrix
        } else {
            Vec::new()
        };
        let mut top: Vec<((usize, usize), usize)> = mistakes.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let n = gold.len();
        Ok(Evaluation {
            n,
            accuracy: ratio(tp.iter().sum(), n),
            macro_f1: if present.is_empty() {
                0.0
            } else {
                present.iter().sum::<f64>() / present.len() as f64
            },
            labels: labels.to_vec(),
            per_label,
            confusion,
            top_confusions: top
                .into_iter()
                .take(TOP_CONFUSIONS)
                .map(|((g, p), count)| Confusion {
                    gold: labels[g].clone(),
                    predicted: labels[p].clone(),
                    count,
                })
                .collect(),
            calibration: None,
        })
    }

    /// The evaluation with its calibration recorded.
    pub fn with_calibration(self, calibration: Calibration) -> Self {
        Self {
            calibration: Some(calibration),
            ..self
        }
    }

    /// The confusion matrix with its labels; `None` where [`Evaluation::confusion`] is empty.
    pub fn confusion_matrix(&self) -> Option<ConfusionMatrix> {
        (!self.confusion.is_empty()).then(|| ConfusionMatrix {
            labels: self.labels.clone(),
            counts: self.confusion.clone(),
        })
    }

    /// A plain-text report: accuracy, macro-F1 and n; a per-label table (precision,
    /// recall, F1, support) with aligned columns; and the confusion matrix with gold
    /// labels as rows and predicted labels as columns, or above
    /// [`CONFUSION_MATRIX_MAX_LABELS`] labels the most frequent mistakes.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail, so the fmt::Results below are ignored.
        let _ = writeln!(out, "accuracy  {:.4}  (n = {})", self.accuracy, self.n);
        let _ = writeln!(out, "macro-F1  {:.4}", self.macro_f1);
        if let Some(c) = &self.calibration {
            let _ = writeln!(
                out,
                "ECE       {:.4}  (expected calibration error, {CALIBRATION_BINS} bins)",
                c.ece
            );
        }
        let _ = writeln!(out);

        let name_width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .chain(["label".len()])
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "{:<name_width$}  {:>9}  {:>9}  {:>9}  {:>9}",
            "label", "precision", "recall", "f1", "support"
        );
        for m in &self.per_label {
            let _ = writeln!(
                out,
                "{:<name_width$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}",
                m.label, m.precision, m.recall, m.f1, m.support
            );
        }
        let _ = writeln!(out);

        if self.confusion.is_empty() && !self.labels.is_empty() {
            self.write_top_confusions(&mut out);
        } else {
            self.write_confusion(&mut out, name_width);
        }
        out
    }

    /// The confusion matrix with gold labels as rows and predicted labels as columns.
    fn write_confusion(&self, out: &mut String, name_width: usize) {
        let corner = "gold \\ predicted";
        let row_width = name_width.max(corner.len());
        let _ = writeln!(out, "confusion matrix (rows: gold, columns: predicted)");
        let _ = write!(out, "{corner:<row_width$}");
        let widths: Vec<usize> = (0..self.labels.len())
            .map(|j| {
                let widest_count = self
                    .confusion
                    .iter()
                    .filter_map(|row| row.get(j))
                    .map(|c| c.to_string().len())
                    .max()
                    .unwrap_or(1);
                self.labels[j].chars().count().max(widest_count)
            })
            .collect();
        for (label, width) in self.labels.iter().zip(&widths) {
            let _ = write!(out, "  {label:>width$}");
        }
        let _ = writeln!(out);
        for (label, row) in self.labels.iter().zip(&self.confusion) {
            let _ = write!(out, "{label:<row_width$}");
            for (count, width) in row.iter().zip(&widths) {
                let _ = write!(out, "  {count:>width$}");
            }
            let _ = writeln!(out);
        }
    }

    /// In place of a matrix too large to read: the most frequent mistakes.
    fn write_top_confusions(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "no confusion matrix for {} labels (more than {CONFUSION_MATRIX_MAX_LABELS}); the most frequent mistakes (gold -> predicted: count):",
            self.labels.len()
        );
        for c in &self.top_confusions {
            let _ = writeln!(out, "{} -> {}: {}", c.gold, c.predicted, c.count);
        }
    }
}

fn label_metrics(label: &str, tp: usize, support: usize, predicted: usize) -> LabelMetrics {
    let precision = ratio(tp, predicted);
    let recall = ratio(tp, support);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    LabelMetrics {
        label: label.to_string(),
        precision,
        recall,
        f1,
        support,
    }
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(labels: &[&str]) -> Vec<String> {
        labels.iter().map(|l| l.to_string()).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn three_class_example_matches_hand_computation() {
        let labels = names(&["neg", "neu", "pos"]);
        let gold = [0, 0, 1, 1, 1, 2, 2, 2, 2, 2];
        let pred = [0, 1, 1, 1, 2, 2, 2, 2, 0, 1];
        let e = Evaluation::from_predictions(&labels, &gold, &pred).unwrap();
        assert_eq!(e.n, 10);
        assert_eq!(
            e.confusion,
            vec![vec![1, 1, 0], vec![0, 2, 1], vec![1, 1, 3]]
        );
        assert!(close(e.accuracy, 0.6));
        // (precision, recall, f1, support), worked out from the confusion matrix above.
        let want = [
            (1.0 / 2.0, 1.0 / 2.0, 0.5, 2),
            (2.0 / 4.0, 2.0 / 3.0, 4.0 / 7.0, 3),
            (3.0 / 4.0, 3.0 / 5.0, 2.0 / 3.0, 5),
        ];
        for (m, (p, r, f, s)) in e.per_label.iter().zip(want) {
            assert!(close(m.precision, p), "{m:?}");
            assert!(close(m.recall, r), "{m:?}");
            assert!(close(m.f1, f), "{m:?}");
            assert_eq!(m.support, s);
        }
        assert!(close(e.macro_f1, 73.0 / 126.0));
    }

    #[test]
    fn mistakes_are_listed_most_frequent_first() {
        let labels = names(&["a", "b", "c"]);
        let gold = [0, 0, 0, 1, 1, 2];
        let pred = [1, 1, 2, 0, 1, 2];
        let e = Evaluation::from_predictions(&labels, &gold, &pred).unwrap();
        let top: Vec<(&str, &str, usize)> = e
            .top_confusions
            .iter()
            .map(|c| (c.gold.as_str(), c.predicted.as_str(), c.count))
            .collect();
        assert_eq!(top, [("a", "b", 2), ("a", "c", 1), ("b", "a", 1)]);
    }

    #[test]
    fn many_labels_get_no_matrix_but_the_same_figures() {
        let k = CONFUSION_MATRIX_MAX_LABELS + 1;
        let labels: Vec<String> = (0..k).map(|i| format!("l{i}")).collect();
        let gold: Vec<usize> = (0..k).collect();
        let pred: Vec<usize> = (0..k)
            .map(|i| if i < 3 { (i + 1) % k } else { i })
            .collect();
        let e = Evaluation::from_predictions(&labels, &gold, &pred).unwrap();
        assert!(e.confusion.is_empty());
        assert_eq!(e.top_confusions.len(), 3);
        assert!(close(e.accuracy, (k - 3) as f64 / k as f64));
        let table = e.to_table();
        assert!(table.contains("l0 -> l1: 1"), "{table}");
        assert!(table.lines().all(|l| l.len() < 200), "{table}");
    }

    #[test]
    fn perfect_classifier_scores_one() {
        let labels = names(&["a", "b"]);
        let gold = [0, 1, 1, 0, 1];
        let e = Evaluation::from_predictions(&labels, &gold, &gold).unwrap();
        assert_eq!(e.accuracy, 1.0);
        assert_eq!(e.macro_f1, 1.0);
        assert!(e
            .per_label
            .iter()
            .all(|m| m.precision == 1.0 && m.recall == 1.0));
        assert_eq!(e.confusion, vec![vec![2, 0], vec![0, 3]]);
    }

    #[test]
    fn undefined_figures_are_zero_and_unseen_labels_leave_macro_f1_alone() {
        let labels = names(&["a", "b", "c"]);
        // "b" is predicted but never gold; "c" appears nowhere.
        let e = Evaluation::from_predictions(&labels, &[0, 0], &[0, 1]).unwrap();
        assert_eq!(e.per_label[1].precision, 0.0);
        assert_eq!(e.per_label[1].recall, 0.0);
        assert_eq!(e.per_label[2].f1, 0.0);
        assert!(close(e.macro_f1, (2.0 / 3.0) / 2.0));
        let empty = Evaluation::from_predictions(&labels, &[], &[]).unwrap();
        assert_eq!((empty.accuracy, empty.macro_f1), (0.0, 0.0));
    }

    #[test]
    fn bad_input_is_a_config_error() {
        let labels = names(&["a", "b"]);
        let mismatch = Evaluation::from_predictions(&labels, &[0, 1], &[0]);
        assert!(matches!(mismatch, Err(Error::Config(_))));
        let out_of_range = Evaluation::from_predictions(&labels, &[0], &[2]);
        assert!(matches!(out_of_range, Err(Error::Config(_))));
    }

    #[test]
    fn table_shows_labels_accuracy_and_aligned_columns() {
        let labels = names(&["negative", "pos"]);
        let e = Evaluation::from_predictions(&labels, &[0, 1, 1, 1], &[0, 1, 0, 1]).unwrap();
        let table = e.to_table();
        assert!(table.contains("accuracy  0.7500  (n = 4)"), "{table}");
        assert!(table.contains("negative") && table.contains("pos"));
        assert!(table.contains("rows: gold, columns: predicted"));
        let rows: Vec<&str> = table
            .lines()
            .skip_while(|l| !l.starts_with("label"))
            .take(3)
            .collect();
        assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{table}");
        let matrix: Vec<&str> = table.lines().rev().take(3).collect();
        assert!(matrix.iter().all(|r| r.len() == matrix[0].len()), "{table}");
    }
}
