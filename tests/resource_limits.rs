//! Sizes that cannot fit are refused with an estimate before anything is allocated, and
//! evaluation output stays linear in the number of labels.

mod common;

use common::{mem_total, run, sentiment_tsv, stderr, stdout, tiny_train_config};
use lstm_sentiment::{train, Example};
use std::ops::ControlFlow;

/// Runs `args` in a fresh directory holding train.tsv and expects a refusal that names the
/// estimate and the machine's memory; skipped where the machine's memory cannot be read or
/// would hold `bytes`.
fn expect_refused_for_memory(args: &[&str], bytes: u64) {
    match mem_total() {
        Some(total) if total < bytes => {}
        other => {
            eprintln!(
                "skipped: the machine's memory ({other:?} bytes) is unknown or not below {bytes}"
            );
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.tsv"), sentiment_tsv(40)).unwrap();
    let out = run(dir.path(), args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("needs at least") && err.contains("more than this machine's"),
        "{err}"
    );
}

#[test]
fn training_that_cannot_fit_in_memory_is_refused_with_the_estimate() {
    // hidden 100000: 4 x 100000 x (100000 + 8) LSTM weights, 160 GB in float32 alone.
    let args = [
        "train",
        "--train",
        "train.tsv",
        "--out",
        "m",
        "--hidden",
        "100000",
        "--embedding-dim",
        "8",
        "--no-checkpoint",
        "-q",
    ];
    expect_refused_for_memory(&args, 160_000_000_000);
}

#[test]
fn word2vec_that_cannot_fit_in_memory_is_refused_with_the_estimate() {
    // A few words of 10^9 dimensions each: 4 GB per word and table.
    let args = [
        "word2vec",
        "-i",
        "train.tsv",
        "-o",
        "v.txt",
        "--dim",
        "1000000000",
        "--min-count",
        "1",
        "-q",
    ];
    expect_refused_for_memory(&args, 40_000_000_000);
}

#[test]
fn eval_of_a_model_with_hundreds_of_labels_prints_no_quadratic_matrix() {
    let labels = 300;
    let data: Vec<Example> = (0..2 * labels)
        .map(|i| Example {
            text: format!("word{} word{}", i % labels, i % 7),
            label: format!("l{}", i % labels),
        })
        .collect();
    let config = tiny_train_config(1);
    let (classifier, _) = train(&data, Some(&data), &config, &mut |_| {
        ControlFlow::Continue(())
    })
    .expect("training succeeds");
    let dir = tempfile::tempdir().unwrap();
    classifier.save(dir.path().join("m")).unwrap();
    let tsv: String = data
        .iter()
        .map(|e| format!("{}\t{}\n", e.label, e.text))
        .collect();
    std::fs::write(dir.path().join("eval.tsv"), tsv).unwrap();

    let out = run(dir.path(), &["eval", "-m", "m", "-d", "eval.tsv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.lines().all(|l| l.len() < 200),
        "a line grows with the labels"
    );
    assert!(table.contains("most frequent mistakes"), "{table}");

    let out = run(dir.path(), &["eval", "-m", "m", "-d", "eval.tsv", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["confusion"], serde_json::json!([]));
    assert!(json["top_confusions"]
        .as_array()
        .is_some_and(|t| t.len() <= 20));
}
