//! The held-out dev set is drawn per label: every label stays in training, a dev fraction of 0
//! holds out nothing, and messages about thousands of labels stay readable.

mod common;

use common::{run, sentiment_tsv, stderr, tiny_train_args, tiny_train_config};
use lstm_sentiment::{train, Example, TrainConfig};
use std::ops::ControlFlow;

fn ex(label: &str, text: &str) -> Example {
    Example {
        text: text.into(),
        label: label.into(),
    }
}

#[test]
fn a_label_with_one_example_stays_in_training_for_every_seed() {
    let mut data: Vec<Example> = (0..300)
        .map(|i| ex(["0", "1"][i % 2], &format!("text {i} {}", i % 2)))
        .collect();
    data.push(ex("2", "the rare one"));
    for seed in 1..=20 {
        let result = train(&data, None, &tiny_train_config(seed), &mut |_| {
            ControlFlow::Continue(())
        });
        let (classifier, report) = result.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(classifier.labels(), ["0", "1", "2"], "seed {seed}");
        assert_eq!((report.train_examples, report.dev_examples), (271, 30));
    }
}

#[test]
fn a_dev_fraction_of_zero_holds_out_nothing_and_keeps_the_last_epoch() {
    let data: Vec<Example> = (0..40)
        .map(|i| ex(["pos", "neg"][i % 2], ["good", "bad"][i % 2]))
        .collect();
    let config = TrainConfig {
        dev_fraction: 0.0,
        epochs: 3,
        patience: 1,
        ..tiny_train_config(5)
    };
    let (_, report) = train(&data, None, &config, &mut |_| ControlFlow::Continue(())).unwrap();
    assert_eq!((report.train_examples, report.dev_examples), (40, 0));
    assert_eq!(report.epochs.len(), 3, "no early stopping without dev");
    assert_eq!(report.best_epoch, 3);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.tsv"), sentiment_tsv(20)).unwrap();
    let args = tiny_train_args("m", "2", &["--dev-fraction", "0", "--no-checkpoint", "-q"]);
    let out = run(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = common::stdout(&out);
    assert!(
        summary.contains("kept epoch 2 (the last; no dev set)"),
        "{summary}"
    );
}

#[test]
fn messages_about_thousands_of_labels_stay_one_readable_line() {
    let many: Vec<Example> = (0..10_000)
        .map(|i| ex(&format!("label{i}"), "text"))
        .collect();
    let dev = [ex("unknown", "text")];
    let Err(err) = train(&many, Some(&dev), &tiny_train_config(1), &mut |_| {
        ControlFlow::Continue(())
    }) else {
        panic!("a dev label the training data lacks is accepted");
    };
    let err = err.to_string();
    assert!(err.len() < 1000, "{} bytes: {err}", err.len());
    assert!(err.contains("10000 in all"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let tsv: String = many
        .iter()
        .map(|e| format!("{}\t{}\n", e.label, e.text))
        .collect();
    std::fs::write(dir.path().join("train.tsv"), tsv).unwrap();
    std::fs::write(dir.path().join("dev.tsv"), "unknown\ttext\n").unwrap();
    let out = run(
        dir.path(),
        &[
            "train",
            "--train",
            "train.tsv",
            "--dev",
            "dev.tsv",
            "--out",
            "m",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.len() < 1000, "{} bytes: {err}", err.len());
    assert!(
        err.contains("dev.tsv:1: label `unknown` never occurs"),
        "{err}"
    );
}
