//! The held-out dev set is drawn per label: every label stays in training, a dev fraction of 0
//! holds out nothing, and messages about thousands of labels stay readable.

use crate::common::{
    args, dir_with, ex, failure, labelled, run, success, tiny_train_args, tiny_train_config,
    train_dir, train_quietly, trained, tsv,
};
use lstm_sentiment::{Example, TrainConfig};

#[test]
fn a_label_with_one_example_stays_in_training_for_every_seed() {
    let mut data = labelled(300, &["0", "1"], |i| format!("text {i} {}", i % 2));
    data.push(ex("2", "the rare one"));
    for seed in 1..=20 {
        let result = train_quietly(&data, None, &tiny_train_config(seed));
        let (classifier, report) = result.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(classifier.labels(), ["0", "1", "2"], "seed {seed}");
        assert_eq!((report.train_examples, report.dev_examples), (271, 30));
    }
}

#[test]
fn a_dev_fraction_of_zero_holds_out_nothing_and_keeps_the_last_epoch() {
    let data = labelled(40, &["pos", "neg"], |i| ["good", "bad"][i % 2].into());
    let config = TrainConfig {
        dev_fraction: 0.0,
        epochs: Some(3),
        patience: 1,
        ..tiny_train_config(5)
    };
    let (_, report) = trained(&data, None, &config);
    assert_eq!((report.train_examples, report.dev_examples), (40, 0));
    assert_eq!(report.epochs.len(), 3, "no early stopping without dev");
    assert_eq!(report.best_epoch, 3);

    let dir = train_dir(20);
    let args = tiny_train_args("m", "2", &["--dev-fraction", "0", "--no-checkpoint", "-q"]);
    let summary = success(&run(dir.path(), &args));
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
    let Err(err) = train_quietly(&many, Some(&dev), &tiny_train_config(1)) else {
        panic!("a dev label the training data lacks is accepted");
    };
    let err = err.to_string();
    assert!(err.len() < 1000, "{} bytes: {err}", err.len());
    assert!(err.contains("10000 in all"), "{err}");

    let dir = dir_with(&[("train.tsv", &tsv(&many)), ("dev.tsv", "unknown\ttext\n")]);
    let out = run(
        dir.path(),
        &args("train --train train.tsv --dev dev.tsv --out m"),
    );
    let err = failure(&out, 1);
    assert!(err.len() < 1000, "{} bytes: {err}", err.len());
    assert!(
        err.contains("dev.tsv:1: label `unknown` never occurs"),
        "{err}"
    );
}
