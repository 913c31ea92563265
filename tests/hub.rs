//! `--model hf:owner/name[@rev]` against a Hub cache laid out by the test (no network).

mod common;

use lstm_sentiment::{train, Example, TrainConfig};
use std::ops::ControlFlow;
use std::path::Path;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Writes a tiny model into `$HF_HOME/hub/models--acme--tiny/snapshots/COMMIT/`, with
/// refs/main pointing at it, as hf-hub and huggingface_hub lay out their cache.
fn lay_out_cache(home: &Path) -> std::path::PathBuf {
    let examples: Vec<Example> = (0..40)
        .map(|i| Example {
            text: if i % 2 == 0 { "good day" } else { "bad day" }.to_string(),
            label: if i % 2 == 0 { "positive" } else { "negative" }.to_string(),
        })
        .collect();
    let config = TrainConfig {
        embedding_dim: 4,
        hidden_size: 4,
        epochs: 1,
        ..TrainConfig::default()
    };
    let (model, _) = train(&examples, None, &config, &mut |_| ControlFlow::Continue(())).unwrap();
    let repo = home.join("hub").join("models--acme--tiny");
    let snapshot = repo.join("snapshots").join(COMMIT);
    model.save(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs").join("main"), COMMIT).unwrap();
    snapshot
}

fn predict(home: &Path, model: &str, extra: &[&str]) -> std::process::Output {
    common::bin()
        .env("HF_HOME", home)
        .env("HF_HUB_OFFLINE", "1")
        .args(["predict", "--json", "--model", model])
        .args(extra)
        .arg("good day")
        .output()
        .unwrap()
}

#[test]
fn hub_model_resolves_from_the_offline_cache() {
    let home = tempfile::tempdir().unwrap();
    lay_out_cache(home.path());
    for spec in [
        "hf:acme/tiny",
        "hf:acme/tiny@main",
        &format!("hf:acme/tiny@{COMMIT}"),
    ] {
        let out = predict(home.path(), spec, &[]);
        assert!(
            out.status.success(),
            "{spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(line["probs"]["positive"].is_number(), "{line}");
    }
}

#[test]
fn a_file_missing_offline_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let snapshot = lay_out_cache(home.path());
    std::fs::remove_file(snapshot.join("tokenizer.json")).unwrap();
    let out = predict(home.path(), "hf:acme/tiny", &["--offline"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tokenizer.json") && err.contains("offline") && err.contains("acme/tiny"),
        "{err}"
    );

    let out = predict(home.path(), "hf:acme/absent", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("acme/absent"));
}
