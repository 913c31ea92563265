//! Pretraining the encoder on unlabelled text: it learns, its directory round-trips, a resumed
//! run ends where an uninterrupted one does, and `train --init` starts a classifier from it.

use crate::common;
use lstm_sentiment::pretrain::{
    pretrain, Objective, PretrainConfig, PretrainEvent, PretrainReport, Pretrained,
};
use lstm_sentiment::train::Checkpointing;
use std::ops::ControlFlow;

/// Texts that walk a cycle of 12 words from a varying start: each word fixes the next (and the
/// previous), so a language model can learn to predict nearly every token.
fn planted_texts(n: usize) -> Vec<String> {
    let words = [
        "amber", "birch", "cedar", "dune", "elm", "fern", "grove", "heath", "iris", "juniper",
        "kelp", "larch",
    ];
    (0..n)
        .map(|i| {
            let (start, len) = (i * 5 % 12, 6 + i % 9);
            let text: Vec<&str> = (0..len).map(|j| words[(start + j) % 12]).collect();
            text.join(" ")
        })
        .collect()
}

fn tiny(objective: Objective) -> PretrainConfig {
    PretrainConfig {
        objective,
        embedding_dim: 8,
        hidden_size: 16,
        max_length: 10,
        batch_size: 8,
        epochs: 20,
        lr: 0.02,
        dropout: 0.0,
        samples: 6,
        heldout: 0.1,
        tokenizer: lstm_sentiment::TokenizerConfig {
            min_count: 1,
            ..Default::default()
        },
        seed: 5,
        checkpoint_steps: 0,
        ..PretrainConfig::default()
    }
}

fn run(texts: &[String], config: &PretrainConfig) -> (Pretrained, PretrainReport) {
    let go = &mut |_: &PretrainEvent| ControlFlow::Continue(());
    pretrain(texts, config, &Checkpointing::default(), go).expect("pretraining runs")
}

fn values(p: &Pretrained) -> Vec<(String, Vec<f32>)> {
    (p.weights.iter())
        .map(|(k, t)| {
            (
                k.clone(),
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        })
        .collect()
}

/// Held-out perplexity over the 14 ids ([PAD], [UNK], 12 words) starts near a guess among
/// them and must fall to a small fraction of it.
fn assert_learns(objective: Objective, bidirectional: bool) {
    let config = PretrainConfig {
        bidirectional,
        ..tiny(objective)
    };
    let (_, report) = run(&planted_texts(160), &config);
    let perplexity = |i: usize| report.epochs[i].heldout_perplexity.expect("texts held out");
    let (first, last) = (perplexity(0), perplexity(report.epochs.len() - 1));
    assert!(
        last < 1.5 && last < first / 4.0,
        "{objective}: held-out perplexity {first} -> {last}"
    );
    let loss = |i: usize| report.epochs[i].train_loss;
    assert!(
        loss(report.epochs.len() - 1) < loss(0),
        "{objective}: train loss"
    );
}

#[test]
fn a_language_model_learns_planted_sequences() {
    assert_learns(Objective::Lm, false);
}

#[test]
fn a_bidirectional_language_model_learns_both_directions() {
    assert_learns(Objective::Lm, true);
}

#[test]
fn a_sequence_autoencoder_learns_to_regenerate_planted_sequences() {
    assert_learns(Objective::Autoencoder, false);
}

#[test]
fn a_pretrained_directory_round_trips_with_pytorch_names() {
    let tmp = tempfile::tempdir().unwrap();
    let config = PretrainConfig {
        epochs: 1,
        bidirectional: true,
        ..tiny(Objective::Lm)
    };
    let (pretrained, _) = run(&planted_texts(40), &config);
    pretrained.save(tmp.path()).unwrap();
    let loaded = Pretrained::load(tmp.path(), &candle_core::Device::Cpu).unwrap();
    assert_eq!(loaded.config, pretrained.config);
    assert_eq!(values(&loaded), values(&pretrained));
    assert_eq!(
        loaded.tokenizer.to_json().unwrap(),
        pretrained.tokenizer.to_json().unwrap()
    );
    let names: Vec<&str> = loaded.weights.keys().map(String::as_str).collect();
    for name in [
        "embedding.weight",
        "encoder.weight_ih_l0",
        "encoder.bias_hh_l0_reverse",
        "lm.projection.weight",
        "lm.projection_reverse.bias",
        "lm.output_bias",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let json = std::fs::read_to_string(tmp.path().join("config.json")).unwrap();
    assert!(
        json.contains("\"kind\": \"pretrained_encoder\"") && json.contains("\"objective\": \"lm\"")
    );

    // A classifier loader says what the directory is instead of failing on a missing field.
    let err = lstm_sentiment::Classifier::load(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pretrained encoder") && err.contains("--init"),
        "{err}"
    );
}

#[test]
fn the_autoencoder_writes_its_decoder_under_its_own_prefix() {
    let config = PretrainConfig {
        epochs: 1,
        ..tiny(Objective::Autoencoder)
    };
    let (pretrained, _) = run(&planted_texts(40), &config);
    let shape = |name: &str| pretrained.weights[name].dims().to_vec();
    // One layer of the encoder's cell and width, reading a word vector beside the final state.
    assert_eq!(shape("autoencoder.decoder.weight_ih_l0"), [64, 8 + 16]);
    assert_eq!(shape("autoencoder.decoder.weight_hh_l0"), [64, 16]);
    assert_eq!(shape("autoencoder.projection.weight"), [8, 16]);
    assert!(pretrained.weights.contains_key("autoencoder.output_bias"));
}

#[test]
fn a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let texts = planted_texts(60);
    let config = PretrainConfig {
        epochs: 3,
        dropout: 0.2,
        checkpoint_steps: 2,
        ..tiny(Objective::Lm)
    };
    let (reference, uninterrupted) = run(&texts, &config);

    let checkpointing = Checkpointing {
        dir: Some(tmp.path().join("checkpoint")),
        resume: false,
    };
    // Stopped after step 3 of epoch 2: the checkpoint continues at step 4.
    let stop = &mut |e: &PretrainEvent| match e {
        PretrainEvent::Step {
            epoch: 2, step: 3, ..
        } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    };
    let (_, stopped) = pretrain(&texts, &config, &checkpointing, stop).unwrap();
    assert!(stopped.interrupted);

    // The checkpoint's settings win over the ones given to the resumed run.
    let resuming = Checkpointing {
        resume: true,
        ..checkpointing
    };
    let mut started = None;
    let (resumed, report) = pretrain(&texts, &tiny(Objective::Autoencoder), &resuming, &mut |e| {
        if let PretrainEvent::Started {
            first_epoch,
            first_step,
            ..
        } = e
        {
            started = Some((*first_epoch, *first_step));
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(started, Some((2, 4)));
    assert_eq!(report.config, config);
    let losses = |r: &PretrainReport| -> Vec<(f64, Option<f64>)> {
        (r.epochs.iter())
            .map(|e| (e.train_loss, e.heldout_loss))
            .collect()
    };
    assert_eq!(losses(&report), losses(&uninterrupted));
    assert!(
        values(&resumed) == values(&reference),
        "resumed weights differ from the uninterrupted run"
    );

    // Other text is refused.
    let err = pretrain(&texts[1..], &config, &resuming, &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("other text"), "{err}");
}

/// A pretrained encoder in `dir` of the test's temporary directory, with `train.tsv` beside it.
fn pretrained_dir(root: &std::path::Path) {
    std::fs::write(root.join("train.tsv"), common::sentiment_tsv(40)).unwrap();
    let texts: Vec<String> = common::sentiment_tsv(40)
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    let config = PretrainConfig {
        epochs: 1,
        embedding_dim: 6,
        hidden_size: 10,
        ..tiny(Objective::Lm)
    };
    let (pretrained, _) = run(&texts, &config);
    pretrained.save(&root.join("encoder")).unwrap();
}

#[test]
fn train_init_refuses_other_sizes_and_tokenizers_naming_both_values() {
    let tmp = tempfile::tempdir().unwrap();
    pretrained_dir(tmp.path());
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--train",
            "train.tsv",
            "--out",
            "m",
            "--init",
            "encoder",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--epochs", "1", "--no-checkpoint", "-q"]);
        common::run(tmp.path(), &args)
    };
    for (flag, value, theirs) in [
        (
            "--hidden",
            "12",
            "hidden_size 10 where the classifier has 12",
        ),
        (
            "--embedding-dim",
            "7",
            "embedding_dim 6 where the classifier has 7",
        ),
        ("--layers", "2", "num_layers 1 where the classifier has 2"),
        ("--cell", "gru", "cell lstm where the classifier has gru"),
        (
            "--max-vocab",
            "100",
            "max_vocab 50000 where the classifier has 100",
        ),
    ] {
        let out = train(&[flag, value]);
        let err = common::stderr(&out);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(
            err.contains(theirs) && err.contains("encoder"),
            "{flag}: {err}"
        );
        assert!(!tmp.path().join("m").exists(), "{flag}: nothing is written");
    }
    let out = train(&["--keep-case"]);
    let err = common::stderr(&out);
    assert!(
        err.contains("a lowercased tokenizer where the classifier has a cased one"),
        "{err}"
    );

    // Flags that agree, or that are left out, are fine.
    let out = train(&["--hidden", "10"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn train_init_starts_from_the_pretrained_encoder_and_its_tokenizer() {
    let tmp = tempfile::tempdir().unwrap();
    pretrained_dir(tmp.path());
    // One epoch of gradual unfreezing trains the output layer alone: everything else must be
    // the pretrained encoder's, bit for bit.
    let out = common::run(
        tmp.path(),
        &[
            "train",
            "--train",
            "train.tsv",
            "--out",
            "m",
            "--init",
            "encoder",
            "--epochs",
            "1",
            "--gradual-unfreezing",
            "--no-checkpoint",
            "-q",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let encoder = Pretrained::load(&tmp.path().join("encoder"), &candle_core::Device::Cpu).unwrap();
    let classifier = lstm_sentiment::Classifier::load(tmp.path().join("m")).unwrap();
    let config = classifier.config();
    assert_eq!((config.embedding_dim, config.hidden_size), (6, 10));
    assert_eq!(
        classifier.tokenizer().to_json().unwrap(),
        encoder.tokenizer.to_json().unwrap()
    );
    let flat = |t: &candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for name in [
        "embedding.weight",
        "encoder.weight_ih_l0",
        "encoder.bias_hh_l0",
    ] {
        assert!(
            flat(&classifier.weights()[name]) == flat(&encoder.weights[name]),
            "{name} moved while frozen"
        );
    }
    assert!(!classifier.weights().contains_key("lm.output_bias"));

    // Without unfreezing the same run moves the encoder.
    let out = common::run(
        tmp.path(),
        &[
            "train",
            "--train",
            "train.tsv",
            "--out",
            "m2",
            "--init",
            "encoder",
            "--epochs",
            "1",
            "--no-checkpoint",
            "-q",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let moved = lstm_sentiment::Classifier::load(tmp.path().join("m2")).unwrap();
    let name = "encoder.weight_hh_l0";
    assert!(flat(&moved.weights()[name]) != flat(&encoder.weights[name]));
}

#[test]
fn train_pretrain_lm_pretrains_then_fine_tunes_in_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("train.tsv"), common::sentiment_tsv(40)).unwrap();
    std::fs::write(tmp.path().join("more.txt"), planted_texts(30).join("\n")).unwrap();
    let out = common::run(
        tmp.path(),
        &common::tiny_train_args(
            "m",
            "1",
            &[
                "--pretrain-lm",
                "--unlabeled",
                "more.txt",
                "--no-checkpoint",
            ],
        ),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert!(err.contains("language model: pretraining on"), "{err}");
    let classifier = lstm_sentiment::Classifier::load(tmp.path().join("m")).unwrap();
    // The vocabulary covers the unlabelled text too.
    assert!(classifier.tokenizer().token_to_id("juniper").is_some());
}

#[test]
fn the_pretrain_command_writes_a_directory_and_removes_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.txt"), planted_texts(30).join("\n")).unwrap();
    std::fs::write(tmp.path().join("b.tsv"), common::sentiment_tsv(20)).unwrap();
    let out = common::run(
        tmp.path(),
        &[
            "pretrain",
            "--input",
            "a.txt",
            "b.tsv",
            "--out",
            "enc",
            "--objective",
            "autoencoder",
            "--embedding-dim",
            "8",
            "--hidden",
            "8",
            "--max-length",
            "6",
            "--samples",
            "4",
            "--min-count",
            "1",
            "--checkpoint-steps",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let summary = common::stdout(&out);
    assert!(summary.contains("autoencoder objective on"), "{summary}");
    let encoder = Pretrained::load(&tmp.path().join("enc"), &candle_core::Device::Cpu).unwrap();
    // Both files' texts were read: the labelled file's text column, without its labels.
    let vocab = |w: &str| encoder.tokenizer.token_to_id(w).is_some();
    assert!(vocab("juniper") && vocab("film") && !vocab("positive"));
    assert!(!tmp.path().join("enc/checkpoint").exists());
}
