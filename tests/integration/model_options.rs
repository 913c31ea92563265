//! The model options that change what the network reads: `--pooling` (what the head reads of the
//! last layer) and `--truncate` (which tokens a long text keeps). They travel in config.json
//! (format version 2, left out at their defaults so that a default model stays version 1), show
//! in `info` and the model card, survive a save and a load, and are refused with a clear error
//! where config.json gets them wrong.

use crate::common::{
    edit_config, max_diff_rows, read_json, run, sentiment_examples, stderr, stdout, success,
    tiny_train_args, tiny_train_config, train_dir, trained,
};
use lstm_sentiment::{Classifier, DeviceSpec, Pooling, TrainConfig, Truncation};
use serde_json::Value;
use std::path::Path;

fn read_config(dir: &Path) -> Value {
    read_json(&dir.join("config.json"))
}

/// A classifier trained on 40 examples with `config`.
fn classifier(config: &TrainConfig) -> Classifier {
    trained(&sentiment_examples(40), None, config).0
}

#[test]
fn train_flags_reach_config_info_and_card() {
    let tmp = train_dir(40);
    let dir = tmp.path();
    let options = [
        "--pooling",
        "last_max",
        "--truncate",
        "head_tail",
        "--max-length",
        "6",
        "-q",
    ];
    success(&run(dir, &tiny_train_args("model", "1", &options)));
    let config = read_config(&dir.join("model"));
    assert_eq!(config["format_version"], 2);
    assert_eq!(config["pooling"], "last_max");
    assert_eq!(config["truncation"], "head_tail");
    assert_eq!(config["training"]["config"]["pooling"], "last_max");
    let card = std::fs::read_to_string(dir.join("model/README.md")).unwrap();
    assert!(card.contains("(pooling `last_max`)"), "{card}");
    assert!(card.contains("(truncation `head_tail`)"), "{card}");

    let info = success(&run(dir, &["info", "--model", "model"]));
    assert!(info.contains("format version: 2\n"), "{info}");
    assert!(
        info.contains("pooling:        the final hidden state and the max over every step, side by side (last_max)\n"),
        "{info}"
    );
    assert!(
        info.contains("max length:     6 tokens; a longer text keeps the first half from the start, the second from the end (head_tail)\n"),
        "{info}"
    );
    success(&run(
        dir,
        &["predict", "--model", "model", "good film number 1"],
    ));

    // With the model format's own defaults (train's pooling is max) nothing of them is
    // written, and the format stays 1.
    let plain = ["--pooling", "last", "-q"];
    success(&run(dir, &tiny_train_args("plain", "1", &plain)));
    let text = std::fs::read_to_string(dir.join("plain/config.json")).unwrap();
    assert!(
        !text.contains("pooling") && !text.contains("truncation"),
        "{text}"
    );
    assert_eq!(read_config(&dir.join("plain"))["format_version"], 1);
    let info = stdout(&run(dir, &["info", "--model", "plain"]));
    assert!(
        info.contains("pooling:        the final hidden state (last)\n"),
        "{info}"
    );
    assert!(info.contains("keeps the first tokens (head)\n"), "{info}");
}

#[test]
fn unknown_values_are_usage_errors_that_list_the_choices() {
    let tmp = train_dir(10);
    let dir = tmp.path();
    for (flag, value, choice) in [
        ("--pooling", "median", "last_max"),
        ("--truncate", "middle", "head_tail"),
    ] {
        let out = run(dir, &tiny_train_args("model", "1", &[flag, value]));
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = stderr(&out);
        assert!(err.contains(value) && err.contains(choice), "{err}");
    }
}

/// What each side keeps is what the classifier reads, one text at a time and in batches.
#[test]
fn a_long_text_is_read_as_its_truncation_says() {
    let config = TrainConfig {
        max_length: 4,
        ..tiny_train_config(5)
    };
    let tmp = tempfile::tempdir().unwrap();
    classifier(&config).save(tmp.path()).unwrap();
    let long = "good film number 1 bad film number 2";
    let other = "好 good film number 3 bad film";
    for (truncation, kept) in [
        ("head", "good film number 1"),
        ("tail", "bad film number 2"),
        ("head_tail", "good film number 2"),
    ] {
        edit_config(tmp.path(), |c| {
            c["format_version"] = 2.into();
            c["truncation"] = truncation.into();
        });
        let classifier = Classifier::load(tmp.path()).unwrap();
        assert_eq!(classifier.config().truncation.name(), truncation);
        let want = classifier.logits(&[kept]).unwrap();
        assert_eq!(classifier.logits(&[long]).unwrap(), want, "{truncation}");
        let batch = classifier.logits(&[other, long]).unwrap();
        assert_eq!(batch[1], want[0], "{truncation} in a batch");
    }
    let classifier = Classifier::load(tmp.path()).unwrap();
    let ids = classifier.tokenizer().encode(long, 100).unwrap();
    let kept = classifier
        .tokenizer()
        .encode_truncated(long, 4, Truncation::HeadTail)
        .unwrap();
    assert_eq!(kept, [&ids[..2], &ids[6..]].concat());
}

#[test]
fn every_pooling_trains_and_loads_back_to_the_same_logits() {
    let texts = ["good film number 2", "bad film", "", "unseen words only"];
    for pooling in Pooling::ALL {
        let config = TrainConfig {
            pooling,
            bidirectional: true,
            ..tiny_train_config(7)
        };
        let classifier = classifier(&config);
        let width = pooling.width() * 2 * config.hidden_size;
        assert_eq!(classifier.config().feature_size(), width, "{pooling}");
        assert_eq!(classifier.weights()["head.weight"].dims(), [2, width]);
        let tmp = tempfile::tempdir().unwrap();
        classifier.save(tmp.path()).unwrap();
        let loaded = Classifier::load(tmp.path()).unwrap();
        assert_eq!(loaded.config().pooling, pooling);
        let logits = loaded.logits(&texts).unwrap();
        assert_eq!(logits, classifier.logits(&texts).unwrap(), "{pooling}");
        let vectors = loaded.embed(&texts).unwrap();
        assert!(vectors.iter().all(|v| v.len() == width), "{pooling}");
        assert!(
            vectors[2].iter().all(|&v| v == 0.0),
            "{pooling}: empty text"
        );
    }
}

#[test]
fn config_json_that_gets_the_options_wrong_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    classifier(&tiny_train_config(9))
        .save(dir.join("model"))
        .unwrap();
    let model = dir.join("model");
    // Each case: the fields written over config.json, and what the message must name.
    let cases = [
        (
            "an option in a version 1 file, which older builds would ignore",
            serde_json::json!({"pooling": "max"}),
            ["config.json", "pooling", "needs format_version 2"],
        ),
        (
            "an unknown pooling",
            serde_json::json!({"format_version": 2, "pooling": "median"}),
            ["config.json", "unknown variant `median`", "last_max"],
        ),
        (
            "an unknown truncation",
            serde_json::json!({"format_version": 2, "truncation": "middle"}),
            ["config.json", "unknown variant `middle`", "head_tail"],
        ),
    ];
    for (case, fields, want) in cases {
        let saved = std::fs::read(model.join("config.json")).unwrap();
        edit_config(&model, |c| {
            for (k, v) in fields.as_object().unwrap() {
                c[k] = v.clone();
            }
        });
        let out = run(dir, &["predict", "--model", "model", "good"]);
        assert_eq!(out.status.code(), Some(1), "{case}");
        let err = stderr(&out);
        for fragment in want {
            assert!(err.contains(fragment), "{case}: no `{fragment}` in\n{err}");
        }
        std::fs::write(model.join("config.json"), saved).unwrap();
    }
    // A version 2 file that keeps the defaults loads.
    edit_config(&model, |c| c["format_version"] = 2.into());
    assert!(Classifier::load(&model).is_ok());
}

/// On a GPU, where the plain candle path runs, every pooling with a truncation of its own gives
/// the CPU's logits, for a model trained on the CPU and for one trained there. Needs a build with
/// the `cuda` feature and a GPU:
/// `cargo test --release --features cuda --test integration model_options::`.
#[cfg(feature = "cuda")]
#[test]
fn the_gpu_pools_and_truncates_as_the_cpu_does() {
    gpu_follows_cpu(DeviceSpec::Cuda(0));
}

/// The body of the GPU test, compiled in every build so that it keeps up with the code.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn gpu_follows_cpu(gpu: DeviceSpec) {
    let texts = [
        "",
        "good film number 2",
        "bad film number 1 good film number 3 bad",
        "好 good",
    ];
    for pooling in Pooling::ALL {
        let config = TrainConfig {
            pooling,
            truncation: Truncation::HeadTail,
            max_length: 5,
            bidirectional: true,
            num_layers: 2,
            dropout: 0.0,
            ..tiny_train_config(11)
        };
        let on_cpu = classifier(&config);
        let moved = on_cpu.clone().to_device(gpu).unwrap();
        let cpu_logits = on_cpu.logits(&texts).unwrap();
        let d = max_diff_rows(&cpu_logits, &moved.logits(&texts).unwrap());
        assert!(
            d < 1e-4,
            "{pooling}: moved to the GPU, logits differ by {d}"
        );
        let on_gpu = classifier(&TrainConfig {
            device: gpu,
            ..config
        });
        let d = max_diff_rows(&cpu_logits, &on_gpu.logits(&texts).unwrap());
        assert!(
            d < 1e-3,
            "{pooling}: trained on the GPU, logits differ by {d}"
        );
    }
}
