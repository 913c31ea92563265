//! Golden parity of pretrained encoder directories with PyTorch: every directory under
//! tests/fixtures/pretrained/ was written by the PyTorch twin (scripts/parity/torch_twin.py,
//! `PretrainedEncoder`) with random weights, with expected.json holding the twin's token ids
//! and, per text, the summed negative log-likelihood of the words its objective predicts (the
//! `lm.*` or `autoencoder.*` tensors at work) and how many it predicts. Only the committed files
//! are needed here, no Python.
//!
//! Regenerate the fixtures (from the repository root):
//!
//! ```text
//! scripts/python.sh scripts/parity/make_golden_pretrained.py
//! ```

use lstm_sentiment::pretrain::Pretrained;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Largest difference accepted between the two sums (float32 work in both), relative to the
/// sum's size.
const RELATIVE_TOLERANCE: f64 = 1e-5;

fn fixture_dirs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pretrained");
    crate::common::fixture_dirs(&dir)
}

#[test]
fn pretrained_encoders_score_texts_as_pytorch_does() {
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 6, "fixtures missing: {dirs:?}");
    for dir in dirs {
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        let texts: Vec<&str> = json["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let encoder = Pretrained::load(&dir, &candle_core::Device::Cpu)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for (text, ids) in texts.iter().zip(json["ids"].as_array().unwrap()) {
            let ours = encoder.tokenizer.encode(text, usize::MAX).unwrap();
            let theirs: Vec<u32> = (ids.as_array().unwrap().iter())
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(ours, theirs, "{}: ids of {text:?}", dir.display());
        }
        let scores = encoder.log_likelihood(&texts).unwrap();
        let nll = json["nll"].as_array().unwrap();
        let predictions = json["predictions"].as_array().unwrap();
        for (i, score) in scores.iter().enumerate() {
            let want = nll[i].as_f64().unwrap();
            assert_eq!(
                score.predictions as u64,
                predictions[i].as_u64().unwrap(),
                "{}: predictions for {:?}",
                dir.display(),
                texts[i]
            );
            let diff = (score.nll - want).abs();
            assert!(
                diff <= RELATIVE_TOLERANCE * want.abs().max(1.0),
                "{}: nll {} for {:?}, PyTorch gives {want} (diff {diff:e})",
                dir.display(),
                score.nll,
                texts[i]
            );
        }
    }
}
