//! The built-in model on the everyday check sets in assets/checks/ (hand-written reviews, never
//! trained on): a floor per language, so that a worse built-in model cannot ship unnoticed.

use lstm_sentiment::Classifier;
use std::path::Path;

/// The least accuracy the built-in model must reach on each check set: the shipped model's,
/// less two texts' worth, so that a float rounding on another CPU cannot fail it.
const ENGLISH_FLOOR: f64 = 0.85;
const CHINESE_FLOOR: f64 = 0.865;

fn check(file: &str, floor: f64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/checks")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let rows: Vec<(&str, &str)> = text
        .lines()
        .map(|l| l.split_once('\t').expect("label<TAB>text"))
        .collect();
    let texts: Vec<&str> = rows.iter().map(|r| r.1).collect();
    let predictions = Classifier::builtin()
        .unwrap()
        .predict_batch(&texts)
        .unwrap();
    let wrong: Vec<String> = rows
        .iter()
        .zip(&predictions)
        .filter(|((gold, _), p)| p.label != *gold)
        .map(|((gold, text), p)| format!("{gold} read as {} ({:.2}): {text}", p.label, p.score))
        .collect();
    let accuracy = 1.0 - wrong.len() as f64 / rows.len() as f64;
    assert!(
        accuracy >= floor,
        "{file}: accuracy {accuracy:.4} under {floor}; wrong:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn builtin_model_is_right_on_the_english_check_set() {
    check("en.tsv", ENGLISH_FLOOR);
}

#[test]
fn builtin_model_is_right_on_the_chinese_check_set() {
    check("zh.tsv", CHINESE_FLOOR);
}
