//! What can be checked before training is checked before the first step: a run that cannot
//! save its model fails at once, not after its epochs.

use crate::common::{
    failure, labelled, reports_an_epoch, run, stderr, tiny_train_args, tiny_train_config, train_dir,
};
use lstm_sentiment::train::{train_with, Checkpointing};
use lstm_sentiment::TrainEvent;
use std::ops::ControlFlow;

#[test]
fn a_label_map_naming_no_training_label_is_refused_before_training() {
    let dir = train_dir(40);
    let out = run(
        dir.path(),
        &tiny_train_args(
            "m",
            "2",
            &[
                "--label-map",
                "5=x",
                "--checkpoint-dir",
                "ck",
                "--keep-checkpoint",
            ],
        ),
    );
    let err = failure(&out, 1);
    assert!(
        err.contains("--label-map 5=x: no example of train.tsv has the label `5` or `x`")
            && err.contains("its labels: negative, positive"),
        "{err}"
    );
    assert!(!reports_an_epoch(&err), "trained first: {err}");
    assert!(!dir.path().join("ck").exists(), "a checkpoint was written");
    assert!(!dir.path().join("m").exists(), "an output was written");
}

#[test]
fn an_output_path_that_is_or_runs_through_a_file_is_refused_before_training() {
    let dir = train_dir(40);
    std::fs::write(dir.path().join("file"), "not a model").unwrap();
    for (out_path, message) in [
        ("file", "file: exists and is not a directory"),
        (
            "file/m",
            "file/m: cannot be created: file is not a directory",
        ),
    ] {
        let out = run(
            dir.path(),
            &tiny_train_args(out_path, "2", &["--no-checkpoint"]),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{out_path}: {err}");
        assert!(err.contains(message), "{out_path}: {err}");
        assert!(!reports_an_epoch(&err), "{out_path}: trained first: {err}");
    }
    let kept = std::fs::read_to_string(dir.path().join("file")).unwrap();
    assert_eq!(kept, "not a model");
}

#[test]
fn a_checkpoint_directory_that_cannot_be_written_fails_before_the_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let examples = labelled(20, &["pos", "neg"], |i| {
        ["a good film", "a bad film"][i % 2].into()
    });
    let config = tiny_train_config(1);
    let checkpointing = Checkpointing {
        dir: Some(file.join("checkpoint")),
        resume: false,
    };
    let mut steps = 0;
    let result = train_with(&examples, None, &config, &checkpointing, &mut |e| {
        steps += usize::from(matches!(e, TrainEvent::Step { .. }));
        ControlFlow::Continue(())
    });
    assert_eq!(steps, 0, "training ran before the check");
    let Err(err) = result else {
        panic!("an unwritable checkpoint directory is accepted");
    };
    let err = err.to_string();
    assert!(err.contains("is not a directory"), "{err}");
}
