//! Training never saves a model with non-finite weights: absurd hyperparameters are refused
//! before the first step, and a run stops at the first non-finite loss or gradient, keeping
//! its best finite epoch if it has one.

use crate::common::{
    failure, labelled, reports_an_epoch, run, stderr, stdout, success, tiny_train_args, train_dir,
};
use lstm_sentiment::{train, TrainConfig};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;

#[test]
fn absurd_hyperparameters_are_refused_before_training() {
    let dir = train_dir(40);
    let cases = [
        ("--weight-decay=nan", "weight decay"),
        ("--weight-decay=inf", "weight decay"),
        ("--weight-decay=1e30", "weight decay"),
        ("--weight-decay=-0.5", "weight decay"),
        ("--lr=1e300", "learning rate"),
        ("--lr=inf", "learning rate"),
        ("--clip-norm=nan", "clip norm"),
        ("--clip-norm=-1", "clip norm"),
        ("--clip-norm=inf", "clip norm"),
    ];
    for (flag, named) in cases {
        let out = run(
            dir.path(),
            &tiny_train_args("m", "2", &["--no-checkpoint", flag]),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{flag}: {err}");
        assert!(err.contains(named), "{flag}: {err}");
        assert!(!reports_an_epoch(&err), "{flag} trained: {err}");
        assert!(!dir.path().join("m").exists(), "{flag} left a model");
    }
}

#[test]
fn the_library_refuses_a_nan_weight_decay() {
    let examples = labelled(4, &["pos", "neg"], |i| {
        ["good", "bad", "fine", "awful"][i].to_string()
    });
    let config = TrainConfig {
        weight_decay: f64::NAN,
        ..TrainConfig::default()
    };
    let mut steps = 0;
    let result = train(&examples, Some(&examples), &config, &mut |_| {
        steps += 1;
        ControlFlow::Continue(())
    });
    let Err(err) = result else {
        panic!("a NaN weight decay is accepted");
    };
    let err = err.to_string();
    assert!(err.contains("weight decay") && err.contains("NaN"), "{err}");
    assert_eq!(steps, 0, "events before the refusal");
}

/// A word2vec text file giving every word of the test data the vector (v, ..., v).
fn write_vectors(path: &Path, value: &str) {
    let words = ["good", "bad", "film", "number"];
    let mut s = format!("{} 8\n", words.len());
    for w in words {
        s.push_str(w);
        for _ in 0..8 {
            s.push(' ');
            s.push_str(value);
        }
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn word_vectors_beyond_float32_never_give_a_saved_model() {
    let dir = train_dir(40);
    // 3e38 is a float32, but the sums of the first layer overflow to inf and then NaN; 1e39
    // is no float32 at all.
    for value in ["3e38", "1e39"] {
        write_vectors(&dir.path().join("v.txt"), value);
        let out = run(
            dir.path(),
            &tiny_train_args("m", "2", &["--no-checkpoint", "--vectors", "v.txt"]),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{value}: {err}");
        assert!(!stdout(&out).contains("saved"), "{value}: {}", stdout(&out));
        assert!(!dir.path().join("m").exists(), "{value} left a model");
        if value == "3e38" {
            assert!(
                err.contains("training diverged at epoch 1, step 1: the loss is NaN"),
                "{err}"
            );
        }
    }
}

/// Rewrites the checkpoint so that it asks for `epochs` epochs in all and its current head
/// bias is NaN, leaving its best epoch's weights alone.
fn poison_checkpoint(path: &Path, epochs: u64) {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata: HashMap<String, String> = meta.metadata().clone().unwrap();
    let key = "lstm_sentiment_checkpoint";
    let mut progress: serde_json::Value = serde_json::from_str(&metadata[key]).unwrap();
    progress["config"]["epochs"] = epochs.into();
    metadata.insert(key.into(), progress.to_string());
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut data: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let mut raw = view.data().to_vec();
            if name == "weights/head.bias" {
                raw = f32::NAN.to_le_bytes().repeat(raw.len() / 4);
            }
            (name, view.dtype(), view.shape().to_vec(), raw)
        })
        .collect();
    data.sort_by(|a, b| a.0.cmp(&b.0));
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(name, dtype, shape, raw)| {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), raw).unwrap();
            (name.clone(), view)
        })
        .collect();
    let out = safetensors::tensor::serialize(views, Some(metadata)).unwrap();
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_run_that_turns_non_finite_saves_its_best_finite_epoch_and_fails() {
    let dir = train_dir(40);
    let first = run(
        dir.path(),
        &tiny_train_args("m", "1", &["--keep-checkpoint", "-q"]),
    );
    success(&first);
    poison_checkpoint(&dir.path().join("m/checkpoint/checkpoint.safetensors"), 2);

    let out = run(
        dir.path(),
        &tiny_train_args("m", "1", &["--resume", "m", "-q"]),
    );
    let err = failure(&out, 1);
    assert!(
        err.contains("training diverged at epoch 2, step 1: the loss is NaN"),
        "{err}"
    );
    assert!(
        err.contains("the best epoch with finite weights, 1, was saved to m"),
        "{err}"
    );
    success(&run(dir.path(), &["predict", "-m", "m", "a good film"]));
}
