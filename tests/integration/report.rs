//! The pictures: every `train` writes training.json and report.svg into the model directory,
//! `report DIR` redraws the picture, and `eval --plot` draws the confusion matrix and a
//! reliability diagram with the expected calibration error.

use crate::common::{args, read_json, run, success, tiny_train_args, train_dir};
use std::path::Path;

/// The texts of an SVG document's `<text>` elements; panics unless it parses as SVG.
fn svg_texts(path: &Path) -> Vec<String> {
    let svg = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&svg)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

fn assert_names(texts: &[String], names: &[&str]) {
    for name in names {
        assert!(texts.iter().any(|t| t == name), "no `{name}` in {texts:?}");
    }
}

#[test]
fn training_writes_every_epoch_and_a_picture_of_them() {
    let tmp = train_dir(60);
    let line = tiny_train_args("m", "3", &["--dev-fraction", "0.3", "-q"]);
    success(&run(tmp.path(), &line));
    let dir = tmp.path().join("m");

    let report = read_json(&dir.join("training.json"));
    let epochs = report["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    for (i, epoch) in epochs.iter().enumerate() {
        assert_eq!(epoch["epoch"], i + 1);
        for field in [
            "train_loss",
            "train_accuracy",
            "dev_loss",
            "dev_accuracy",
            "dev_macro_f1",
            "lr",
            "tokens_per_second",
            "seconds",
        ] {
            let value = epoch[field].as_f64();
            assert!(
                value.is_some_and(f64::is_finite),
                "epoch {i}: {field} {epoch}"
            );
        }
        assert!(epoch["dev_loss"].as_f64().unwrap() > 0.0);
        assert!(epoch["lr"].as_f64().unwrap() > 0.0);
    }
    let best = report["best_epoch"].as_u64().unwrap();
    assert!((1..=3).contains(&best));
    let confusion = &report["dev_confusion"];
    assert_eq!(
        confusion["labels"],
        serde_json::json!(["negative", "positive"])
    );
    let counts: Vec<Vec<u64>> = serde_json::from_value(confusion["counts"].clone()).unwrap();
    assert_eq!(counts.len(), 2);
    let total: u64 = counts.iter().flatten().sum();
    assert_eq!(total, report["dev_examples"].as_u64().unwrap());
    let correct = (counts[0][0] + counts[1][1]) as f64 / total as f64;
    let kept = &epochs[best as usize - 1]["dev_accuracy"];
    assert!(
        (correct - kept.as_f64().unwrap()).abs() < 1e-9,
        "{counts:?} vs {kept}"
    );

    let texts = svg_texts(&dir.join("report.svg"));
    assert_names(
        &texts,
        &[
            "train loss",
            "dev loss",
            "train accuracy",
            "dev accuracy",
            "dev confusion matrix (kept epoch)",
            "epoch",
            "gold",
            "predicted",
            "negative",
            "positive",
        ],
    );
    assert_names(&texts, &[&format!("kept epoch ({best})")]);
}

#[test]
fn report_redraws_the_picture_from_training_json() {
    let tmp = train_dir(40);
    success(&run(tmp.path(), &tiny_train_args("m", "2", &["-q"])));
    let picture = tmp.path().join("m/report.svg");
    let drawn = std::fs::read(&picture).unwrap();
    std::fs::remove_file(&picture).unwrap();
    assert_eq!(success(&run(tmp.path(), &args("report m"))), "");
    assert_eq!(std::fs::read(&picture).unwrap(), drawn);

    success(&run(tmp.path(), &args("report m --out elsewhere.svg")));
    assert_eq!(
        std::fs::read(tmp.path().join("elsewhere.svg")).unwrap(),
        drawn
    );
    let to_stdout = run(tmp.path(), &args("report m --out -"));
    assert_eq!(to_stdout.stdout, drawn);
}

#[test]
fn report_of_a_directory_without_one_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let out = run(tmp.path(), &args("report empty"));
    let err = crate::common::failure(&out, 1);
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn eval_plots_the_confusion_matrix_and_calibration() {
    let tmp = train_dir(40);
    let out = run(tmp.path(), &args("eval --data train.tsv --plot eval.svg"));
    let table = success(&out);
    let ece_line = table.lines().find(|l| l.starts_with("ECE")).unwrap();
    let printed: f64 = ece_line.split_whitespace().nth(1).unwrap().parse().unwrap();

    let texts = svg_texts(&tmp.path().join("eval.svg"));
    assert_names(
        &texts,
        &[
            "confusion matrix",
            "perfectly calibrated",
            "accuracy",
            "gold",
        ],
    );
    assert!(
        texts.iter().any(|t| t.starts_with("reliability (ECE ")),
        "{texts:?}"
    );

    let json = success(&run(tmp.path(), &args("eval --data train.tsv --json")));
    let eval: serde_json::Value = serde_json::from_str(&json).unwrap();
    let calibration = &eval["calibration"];
    let ece = calibration["ece"].as_f64().unwrap();
    assert!((ece - printed).abs() < 1e-4, "{ece} vs {printed}");
    let bins = calibration["bins"].as_array().unwrap();
    assert_eq!(bins.len(), 10);
    let counted: u64 = bins.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 40);
    // The error is the count-weighted gap between accuracy and confidence.
    let gap: f64 = bins
        .iter()
        .map(|b| {
            let n = b["count"].as_f64().unwrap();
            n / 40.0 * (b["accuracy"].as_f64().unwrap() - b["confidence"].as_f64().unwrap()).abs()
        })
        .sum();
    assert!((gap - ece).abs() < 1e-9);
}
