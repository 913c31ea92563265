//! `train` on Chinese texts starts from the built-in Chinese encoder unless told otherwise.

use crate::common;
use lstm_sentiment::pretrain::Pretrained;
use std::path::{Path, PathBuf};

/// The encoder's files as the repository holds them.
fn encoder_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/zh-encoder")
}

fn chinese_examples() -> Vec<lstm_sentiment::Example> {
    common::labelled(40, &["positive", "negative"], |i| {
        let text = ["味道很好，送餐也快", "太难吃了，再也不点"][i % 2];
        format!("{text}{}", i % 5)
    })
}

fn chinese_tsv() -> String {
    common::tsv(&chinese_examples())
}

fn train(dir: &Path, out: &str, extra: &[&str]) -> String {
    let mut args = common::args("train --train train.tsv --epochs 1 --no-checkpoint --out");
    args.push(out);
    args.extend_from_slice(extra);
    let output = common::run(dir, &args);
    common::success(&output);
    common::stderr(&output)
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

#[test]
fn chinese_texts_start_from_the_builtin_encoder_as_init_with_its_directory_does() {
    let tmp = common::dir_with(&[("train.tsv", &chinese_tsv())]);
    let said = train(tmp.path(), "auto", &["--gradual-unfreezing"]);
    assert!(said.contains("built-in Chinese encoder"), "{said}");
    let encoder = Pretrained::load(&encoder_dir(), &candle_core::Device::Cpu).unwrap();
    let classifier = lstm_sentiment::Classifier::load(tmp.path().join("auto")).unwrap();
    assert_eq!(
        classifier.tokenizer().to_json().unwrap(),
        encoder.tokenizer.to_json().unwrap()
    );
    // One epoch of gradual unfreezing trains the output layer alone.
    let flat = |t: &candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for name in ["embedding.weight", "encoder.weight_hh_l0_reverse"] {
        assert!(
            flat(&classifier.weights()[name]) == flat(&encoder.weights[name]),
            "{name}"
        );
    }
    let config = std::fs::read_to_string(tmp.path().join("auto/config.json")).unwrap();
    assert!(
        config.contains(r#""encoder": "builtin_chinese""#),
        "{config}"
    );

    let dir = encoder_dir();
    train(
        tmp.path(),
        "dir",
        &["--gradual-unfreezing", "--init", dir.to_str().unwrap()],
    );
    assert!(weights(&tmp.path().join("auto")) == weights(&tmp.path().join("dir")));
}

#[test]
fn init_none_and_other_networks_start_fresh_with_their_own_vocabulary() {
    let tmp = common::dir_with(&[("train.tsv", &chinese_tsv())]);
    for (out, extra) in [
        ("none", &["--init", "none"][..]),
        ("h64", &["--hidden", "64"][..]),
    ] {
        let said = train(tmp.path(), out, extra);
        assert!(!said.contains("encoder"), "{out}: {said}");
        let classifier = lstm_sentiment::Classifier::load(tmp.path().join(out)).unwrap();
        // The characters of the two texts, five digits and the two special tokens.
        assert!(classifier.config().vocab_size < 40, "{out}");
        let config = std::fs::read_to_string(tmp.path().join(out).join("config.json")).unwrap();
        assert!(!config.contains(r#""encoder""#), "{out}: {config}");
    }
}

#[test]
fn a_run_from_the_builtin_encoder_plans_fewer_epochs_unless_told() {
    use lstm_sentiment::train::{BUILTIN_ENCODER_EPOCHS, EPOCHS};
    use lstm_sentiment::{TrainConfig, TrainEvent};
    use std::ops::ControlFlow;
    let planned = |examples: &[lstm_sentiment::Example], epochs: Option<usize>| {
        let config = TrainConfig {
            epochs,
            ..TrainConfig::default()
        };
        // The first epoch is enough to see what the run planned.
        let stop = &mut |e: &TrainEvent| match e {
            TrainEvent::Epoch(_) => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        };
        let (_, report) = lstm_sentiment::train(examples, None, &config, stop).unwrap();
        assert!(report.interrupted);
        report.config.epochs
    };
    let chinese = chinese_examples();
    assert_eq!(planned(&chinese, None), Some(BUILTIN_ENCODER_EPOCHS));
    assert_eq!(planned(&chinese, Some(EPOCHS)), Some(EPOCHS));
    assert_eq!(planned(&common::sentiment_examples(40), None), Some(EPOCHS));
}
