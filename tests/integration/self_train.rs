//! Self-training (`TrainConfig::self_train`, `train --self-train`): the student learns words
//! that only the unlabelled texts hold, from the teacher's labels; the added rows are balanced;
//! a run stopped in the teacher or in the student resumes to the uninterrupted run's weights.

use crate::common::{run, stderr};
use lstm_sentiment::train::{train_with, Checkpointing, SelfTrain};
use lstm_sentiment::{train, Classifier, Example, TrainConfig, TrainEvent};
use std::ops::ControlFlow;
use std::path::Path;

fn labelled() -> Vec<Example> {
    (0..80)
        .map(|i| {
            let (word, label) = if i % 2 == 0 {
                ("good", "1")
            } else {
                ("bad", "0")
            };
            Example {
                text: format!("the {word} film x{}", i % 7),
                label: label.into(),
            }
        })
        .collect()
}

/// Texts that pair "good" with "great" and "bad" with "awful" (three positive to one
/// negative, so balancing has something to do); "great" and "awful" are in no labelled text.
fn write_unlabelled(path: &Path) {
    let lines: Vec<String> = (0..120)
        .map(|i| match i % 4 {
            3 => format!("awful bad y{}", i % 5),
            _ => format!("great good y{}", i % 5),
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn config(unlabeled: &Path) -> TrainConfig {
    TrainConfig {
        embedding_dim: 16,
        hidden_size: 16,
        epochs: Some(6),
        batch_size: 8,
        lr: 1e-2,
        dropout: 0.1,
        // The student sees "great" without "good" only when a word is dropped: what a noisy
        // student learns beyond its teacher's cue words.
        word_dropout: 0.3,
        self_train: Some(SelfTrain {
            unlabeled: unlabeled.to_path_buf(),
            keep: 1.0,
        }),
        ..TrainConfig::default()
    }
}

fn positive(c: &Classifier, text: &str) -> f32 {
    let p = c.predict(text).unwrap();
    p.probs.iter().find(|(l, _)| l == "1").unwrap().1
}

#[test]
fn the_student_learns_words_only_the_unlabelled_texts_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let unlabeled = tmp.path().join("unlabelled.txt");
    write_unlabelled(&unlabeled);
    let mut events = Vec::new();
    // No dev part: every epoch runs and the last is kept, so both models are fully trained.
    let config = TrainConfig {
        epochs: Some(10),
        dev_fraction: 0.0,
        ..config(&unlabeled)
    };
    let (student, report) = train(&labelled(), None, &config, &mut |e| {
        events.push(e.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    let added = report
        .self_training
        .clone()
        .expect("the report records self-training");
    assert_eq!(added.texts, 120);
    // 30 texts are predicted negative at most: both labels add as many.
    let kept: Vec<usize> = added.kept.iter().map(|(_, n)| *n).collect();
    assert!(
        kept[0] == kept[1] && kept[0] > 0 && kept[0] <= 30,
        "{kept:?}"
    );
    assert_eq!(report.train_examples, 80 + kept[0] + kept[1]);
    assert!(events.iter().any(|e| matches!(e, TrainEvent::Teacher(_))));
    assert!(events
        .iter()
        .any(|e| matches!(e, TrainEvent::PseudoLabels(_))));

    let teacher_config = TrainConfig {
        self_train: None,
        ..config.clone()
    };
    let (teacher, _) = train(&labelled(), None, &teacher_config, &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(teacher.tokenizer().token_to_id("great"), None);
    assert!(
        positive(&student, "great") > 0.8,
        "{}",
        positive(&student, "great")
    );
    assert!(
        positive(&student, "awful") < 0.2,
        "{}",
        positive(&student, "awful")
    );
}

fn weights(c: &Classifier) -> Vec<(String, Vec<f32>)> {
    (c.weights().iter())
        .map(|(k, t)| (k.clone(), t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

/// Stops a run at the first epoch that `stop` picks, resumes it, and checks the result against
/// the uninterrupted run.
fn stop_and_resume(stop: fn(&TrainEvent) -> bool) {
    let tmp = tempfile::tempdir().unwrap();
    let unlabeled = tmp.path().join("unlabelled.txt");
    write_unlabelled(&unlabeled);
    let config = TrainConfig {
        epochs: Some(2),
        ..config(&unlabeled)
    };
    let data = labelled();
    let (reference, _) = train(&data, None, &config, &mut |_| ControlFlow::Continue(())).unwrap();
    let checkpointing = Checkpointing {
        dir: Some(tmp.path().join("checkpoint")),
        resume: false,
    };
    let (_, stopped) = train_with(&data, None, &config, &checkpointing, &mut |e| {
        if stop(e) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert!(stopped.interrupted);
    let resuming = Checkpointing {
        resume: true,
        ..checkpointing
    };
    // A resumed run takes its settings from the checkpoint, not from the caller.
    let (resumed, report) =
        train_with(&data, None, &TrainConfig::default(), &resuming, &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(report.self_training.is_some());
    assert!(
        weights(&resumed) == weights(&reference),
        "resumed weights differ"
    );
}

#[test]
fn a_run_stopped_in_the_teacher_resumes_to_the_same_weights() {
    stop_and_resume(
        |e| matches!(e, TrainEvent::Teacher(inner) if matches!(**inner, TrainEvent::Epoch(_))),
    );
}

#[test]
fn a_run_stopped_in_the_student_resumes_to_the_same_weights() {
    stop_and_resume(|e| matches!(e, TrainEvent::Epoch(_)));
}

#[test]
fn the_cli_refuses_a_share_outside_zero_to_one_and_a_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("train.tsv");
    let rows: Vec<String> = labelled()
        .iter()
        .map(|e| format!("{}\t{}", e.label, e.text))
        .collect();
    std::fs::write(&data, rows.join("\n") + "\n").unwrap();
    let unlabeled = tmp.path().join("unlabelled.txt");
    write_unlabelled(&unlabeled);
    let base = [
        "train",
        "--train",
        "train.tsv",
        "--out",
        "m",
        "--epochs",
        "1",
    ];

    let out = run(
        tmp.path(),
        &[
            &base[..],
            &["--self-train", "unlabelled.txt", "--self-train-keep", "0"],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pseudo-labelled texts to keep must be in (0, 1]"),
        "{}",
        stderr(&out)
    );

    let out = run(
        tmp.path(),
        &[&base[..], &["--self-train-keep", "0.5"]].concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--self-train"), "{}", stderr(&out));

    let out = run(
        tmp.path(),
        &[&base[..], &["--self-train", "missing.txt"]].concat(),
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("missing.txt"), "{}", stderr(&out));
    assert!(!tmp.path().join("m").join("model.safetensors").exists());
}
