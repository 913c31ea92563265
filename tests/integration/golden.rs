//! Golden parity with PyTorch: every model directory under tests/fixtures/golden/ was written
//! by the PyTorch twin (scripts/parity/torch_twin.py) with random weights, together with
//! expected.json holding the twin's token ids, logits, features and probabilities for a batch
//! of texts (mixed lengths, a truncated long text, empty texts, unknown words). Only the
//! committed files are needed here, no Python.
//!
//! Regenerate the fixtures (from the repository root; the script's Python environment is made
//! from scripts/parity/requirements.txt, or set PYTHON):
//!
//! ```text
//! scripts/python.sh scripts/parity/make_golden.py
//! ```

use crate::common::{assert_close, max_diff, repo};
use lstm_sentiment::Classifier;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Largest absolute difference accepted between Rust and PyTorch (both float32).
const TOLERANCE: f32 = 1e-5;

fn fixtures_dir() -> PathBuf {
    repo().join("tests/fixtures/golden")
}

/// Every fixture directory, sorted by name.
fn fixture_dirs() -> Vec<PathBuf> {
    crate::common::fixture_dirs(&fixtures_dir())
}

struct Expected {
    texts: Vec<String>,
    ids: Vec<Vec<u32>>,
    logits: Vec<Vec<f32>>,
    features: Vec<Vec<f32>>,
    probs: Vec<Vec<f32>>,
}

fn read_expected(dir: &Path) -> Expected {
    let path = dir.join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).unwrap();
    let field = |name: &str| -> Vec<Value> {
        json[name]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no array `{name}`", path.display()))
            .clone()
    };
    let matrix_f32 = |name: &str| -> Vec<Vec<f32>> {
        field(name)
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    };
    Expected {
        texts: field("texts")
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        ids: field("ids")
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as u32)
                    .collect()
            })
            .collect(),
        logits: matrix_f32("logits"),
        features: matrix_f32("features"),
        probs: matrix_f32("probs"),
    }
}

/// Panics with the fixture, text and column of the first value off by more than TOLERANCE;
/// returns the largest difference.
fn assert_matches_pytorch(
    what: &str,
    fixture: &Path,
    texts: &[String],
    actual: &[Vec<f32>],
    expected: &[Vec<f32>],
) -> f64 {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{}: {what} rows",
        fixture.display()
    );
    let mut worst = 0.0f64;
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let row = format!(
            "{}: {what} of text {i} {:?}, Rust then PyTorch",
            fixture.display(),
            texts[i]
        );
        assert_close(a, e, TOLERANCE, &row);
        worst = worst.max(max_diff(a, e));
    }
    worst
}

#[test]
fn fixtures_cover_every_cell_and_shape() {
    let dirs = fixture_dirs();
    let configs: Vec<_> = dirs
        .iter()
        .map(|d| Classifier::load(d).unwrap().config().clone())
        .collect();
    for cell in ["lstm", "gru", "rnn"] {
        for (layers, bidirectional) in [(1, false), (2, true)] {
            assert!(
                configs.iter().any(|c| c.cell.name() == cell
                    && c.num_layers == layers
                    && c.bidirectional == bidirectional),
                "no {cell} fixture with {layers} layer(s), bidirectional {bidirectional}"
            );
        }
    }
    assert!(configs.iter().any(|c| c.labels.len() > 2));
}

#[test]
fn token_ids_match_pytorch_tokenizers() {
    for dir in fixture_dirs() {
        let classifier = Classifier::load(&dir).unwrap();
        let expected = read_expected(&dir);
        let (max_length, side) = (
            classifier.config().max_length,
            classifier.config().truncation,
        );
        for (text, ids) in expected.texts.iter().zip(&expected.ids) {
            assert_eq!(
                &(classifier.tokenizer())
                    .encode_truncated(text, max_length, side)
                    .unwrap(),
                ids,
                "{}: ids of {text:?}",
                dir.display()
            );
        }
    }
}

#[test]
fn logits_and_features_match_pytorch() {
    let dirs = fixture_dirs();
    assert!(
        dirs.len() >= 8,
        "expected the golden fixtures in {}, found {}",
        fixtures_dir().display(),
        dirs.len()
    );
    for dir in dirs {
        let classifier = Classifier::load(&dir).unwrap();
        let e = read_expected(&dir);
        let features = classifier.embed(&e.texts).unwrap();
        let logits = classifier.logits(&e.texts).unwrap();
        let worst_features =
            assert_matches_pytorch("features", &dir, &e.texts, &features, &e.features);
        let worst_logits = assert_matches_pytorch("logits", &dir, &e.texts, &logits, &e.logits);
        eprintln!(
            "{}: max |diff| features {worst_features:e}, logits {worst_logits:e}",
            dir.file_name().unwrap().to_string_lossy()
        );
    }
}

#[test]
fn probabilities_match_pytorch() {
    for dir in fixture_dirs() {
        let classifier = Classifier::load(&dir).unwrap();
        let e = read_expected(&dir);
        let predictions = classifier.predict_batch(&e.texts).unwrap();
        let probs: Vec<Vec<f32>> = predictions
            .iter()
            .map(|p| p.probs.iter().map(|(_, v)| *v).collect())
            .collect();
        assert_matches_pytorch("probs", &dir, &e.texts, &probs, &e.probs);
        for (p, row) in predictions.iter().zip(&probs) {
            assert_eq!(&p.probs[0].0, &classifier.labels()[0]);
            assert!(row.iter().all(|&v| v <= p.score));
        }
    }
}

#[test]
fn each_text_alone_matches_the_batch() {
    // A text's result must not depend on what else is in its batch (padding, sorting).
    for dir in fixture_dirs() {
        let classifier = Classifier::load(&dir).unwrap();
        let e = read_expected(&dir);
        for (i, text) in e.texts.iter().enumerate() {
            let alone = classifier.logits(&[text]).unwrap();
            assert_matches_pytorch(
                "logits (text alone)",
                &dir,
                &e.texts[i..=i],
                &alone,
                &e.logits[i..=i],
            );
        }
    }
}

#[test]
fn empty_texts_give_zero_features() {
    for dir in fixture_dirs() {
        let e = read_expected(&dir);
        for (i, ids) in e.ids.iter().enumerate() {
            if ids.is_empty() {
                assert!(
                    e.features[i].iter().all(|&v| v == 0.0),
                    "{}: PyTorch features of empty text {i} are not zero",
                    dir.display()
                );
            }
        }
    }
}
