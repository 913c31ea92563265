//! Training options that the defaults leave off: the learning-rate schedule with warmup, word
//! dropout, a separate dropout rate on word vectors and the embedding table's learning rate.
//! Each changes training as documented, survives a resume, and leaves the defaults' weights as
//! they are.

use crate::common::{
    self, sentiment_examples as examples, stderr, success, tiny_train_args, train_dir, trained,
};
use lstm_sentiment::config::EMBEDDING_TENSOR;
use lstm_sentiment::train::{train_with, Checkpointing, LrSchedule, AUTO_ADVERSARIAL};
use lstm_sentiment::{train, Classifier, TrainConfig, TrainEvent, TrainReport};
use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::ops::ControlFlow;

/// A tiny config without a dev set (every epoch runs): 40 examples in batches of 4 give 10
/// steps per epoch.
fn config() -> TrainConfig {
    TrainConfig {
        epochs: Some(3),
        batch_size: 4,
        dev_fraction: 0.0,
        ..common::tiny_train_config(5)
    }
}

/// Trains on 40 examples, returning the classifier, the report and every event.
fn run(config: &TrainConfig) -> (Classifier, TrainReport, Vec<TrainEvent>) {
    let mut events = Vec::new();
    let (classifier, report) = train(&examples(40), None, config, &mut |e| {
        events.push(e.clone());
        ControlFlow::Continue(())
    })
    .expect("trains");
    (classifier, report, events)
}

fn values(classifier: &Classifier) -> BTreeMap<String, Vec<f32>> {
    classifier
        .weights()
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        })
        .collect()
}

/// (global step from 0, learning rate) of every `Step` event.
fn step_rates(events: &[TrainEvent], steps_per_epoch: usize) -> Vec<(usize, f64)> {
    events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step {
                epoch, step, lr, ..
            } => Some(((epoch - 1) * steps_per_epoch + step - 1, *lr)),
            _ => None,
        })
        .collect()
}

/// Panics unless `got` is `want` to 12 significant digits (to 1e-15 near zero).
fn assert_rate(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1e-3),
        "{what}: {got} vs {want}"
    );
}

#[test]
fn cosine_and_linear_schedules_warm_up_then_fall_towards_zero() {
    // 3 epochs of 10 steps; 10% warmup is 3 steps, then 27 steps of decay.
    for (schedule, fall) in [
        (
            LrSchedule::Cosine,
            (|p: f64| 0.5 * (1.0 + (PI * p).cos())) as fn(f64) -> f64,
        ),
        (LrSchedule::Linear, |p: f64| 1.0 - p),
    ] {
        let config = TrainConfig {
            lr: 0.01,
            lr_schedule: schedule,
            warmup: 0.1,
            ..config()
        };
        let (_, report, events) = run(&config);
        let rates = step_rates(&events, 10);
        assert_eq!(rates.len(), 30, "{schedule}");
        for &(t, lr) in &rates {
            let want = if t < 3 {
                0.01 * (t + 1) as f64 / 3.0
            } else {
                0.01 * fall((t - 3) as f64 / 27.0)
            };
            assert_rate(lr, want, &format!("{schedule} step {t}"));
        }
        // The epoch records show the rate of each epoch's last step.
        for record in &report.epochs {
            assert_eq!(record.lr, rates[record.epoch * 10 - 1].1, "{schedule}");
        }
        assert!(rates[29].1 < 0.01 * 0.04, "{schedule} ends near 0");
        assert_eq!(report.config.lr_schedule, schedule);
    }
}

#[test]
fn without_a_schedule_every_step_uses_the_learning_rate() {
    let (_, report, events) = run(&config());
    assert!(step_rates(&events, 10).iter().all(|&(_, lr)| lr == 2e-3));
    assert!(report.epochs.iter().all(|r| r.lr == 2e-3));
}

#[test]
fn a_resumed_run_keeps_its_schedule_and_ends_with_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        lr: 0.01,
        lr_schedule: LrSchedule::Cosine,
        warmup: 0.2,
        word_dropout: 0.2,
        embedding_dropout: Some(0.1),
        embedding_lr_scale: 2.0,
        adversarial: Some(0.3),
        ..config()
    };
    let data = examples(40);
    let (reference, uninterrupted, _) = run(&config);

    let checkpointing = Checkpointing {
        dir: Some(tmp.path().join("checkpoint")),
        resume: false,
    };
    // Stopped in the middle of epoch 2: the checkpoint holds epoch 1.
    let (_, stopped) = train_with(&data, None, &config, &checkpointing, &mut |e| match e {
        TrainEvent::Step { epoch: 2, step, .. } if *step >= 4 => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .unwrap();
    assert!(stopped.interrupted);

    // The checkpoint's hyperparameters win over the (default) ones given to the resumed run.
    let resuming = Checkpointing {
        resume: true,
        ..checkpointing
    };
    let mut events = Vec::new();
    let given = common::tiny_train_config(1);
    let (resumed, report) = train_with(&data, None, &given, &resuming, &mut |e| {
        events.push(e.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    let chosen = TrainConfig {
        ngram_buckets: Some(0),
        encoder: lstm_sentiment::train::EncoderInit::Random,
        ema: Some(0.0),
        ..config.clone()
    };
    assert_eq!(
        report.config, chosen,
        "the checkpoint records every option, bigrams, the start and the average as the run chose them"
    );
    let rates = step_rates(&events, 10);
    assert_eq!(rates.len(), 20, "epochs 2 and 3");
    // Warmup is 6 of 30 steps: step 10 is 4 of the 24 decay steps in.
    assert_eq!(rates[0].0, 10);
    assert_rate(
        rates[0].1,
        0.01 * 0.5 * (1.0 + (PI * 4.0 / 24.0).cos()),
        "step 10",
    );
    let figures = |r: &TrainReport| -> Vec<(usize, f64, f64, f64)> {
        (r.epochs.iter())
            .map(|e| (e.epoch, e.train_loss, e.train_accuracy, e.lr))
            .collect()
    };
    assert_eq!(figures(&report), figures(&uninterrupted));
    assert!(
        values(&resumed) == values(&reference),
        "resumed weights differ from the uninterrupted run"
    );
}

#[test]
fn word_dropout_changes_training_repeatably() {
    let dropping = TrainConfig {
        word_dropout: 0.3,
        ..config()
    };
    let (a, _, _) = run(&dropping);
    let (b, _, _) = run(&dropping);
    assert!(
        values(&a) == values(&b),
        "the same seed drops the same words"
    );
    let (other_seed, _, _) = run(&TrainConfig {
        seed: 6,
        ..dropping.clone()
    });
    let (none, _, _) = run(&TrainConfig {
        word_dropout: 0.0,
        ..dropping
    });
    assert!(values(&a) != values(&none), "word dropout changed nothing");
    assert!(values(&a) != values(&other_seed));
}

#[test]
fn adversarial_training_changes_training_repeatably() {
    let adversarial = TrainConfig {
        adversarial: Some(0.5),
        ..config()
    };
    let (a, report, events) = run(&adversarial);
    let (b, _, _) = run(&adversarial);
    assert!(values(&a) == values(&b), "the same seed, the same weights");
    let (none, _, plain_events) = run(&TrainConfig {
        adversarial: Some(0.0),
        ..config()
    });
    assert!(
        values(&a) != values(&none),
        "the moved texts changed nothing"
    );
    assert_eq!(report.config.adversarial, Some(0.5));
    // Left to the data, a small set trains adversarially, and the run records the move.
    let (auto, report, _) = run(&config());
    assert_eq!(report.config.adversarial, Some(AUTO_ADVERSARIAL));
    assert!(values(&auto) == values(&a));
    // The loss reported is the loss at the texts themselves: before any step has moved a
    // weight, it is the plain run's.
    let first_loss = |events: &[TrainEvent]| {
        (events.iter())
            .find_map(|e| match e {
                TrainEvent::Step { loss, .. } => Some(*loss),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(first_loss(&events), first_loss(&plain_events));
}

#[test]
fn dev_figures_and_predictions_keep_every_word() {
    let config = TrainConfig {
        word_dropout: 0.2,
        lr: 0.05,
        epochs: Some(5),
        ..config()
    };
    let dev = examples(10);
    let (classifier, report) = trained(&examples(40), Some(&dev), &config);
    // The kept epoch's dev loss, recomputed from the classifier's predictions: had words been
    // dropped there, the two would differ.
    let texts: Vec<&str> = dev.iter().map(|e| e.text.as_str()).collect();
    let logits = classifier.logits(&texts).unwrap();
    let loss: f64 = logits
        .iter()
        .zip(&dev)
        .map(|(row, e)| {
            let row: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
            let max = row.iter().cloned().fold(f64::MIN, f64::max);
            let log_sum = max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
            log_sum - row[classifier.label_index(&e.label).unwrap()]
        })
        .sum::<f64>()
        / dev.len() as f64;
    let kept = &report.epochs[report.best_epoch - 1];
    assert!(
        (kept.dev_loss - loss).abs() < 1e-5,
        "{} vs {loss}",
        kept.dev_loss
    );
    assert_eq!(logits, classifier.logits(&texts).unwrap());
}

#[test]
fn embedding_dropout_defaults_to_dropout_and_can_differ() {
    let base = TrainConfig {
        dropout: 0.3,
        ..config()
    };
    let (unset, _, _) = run(&base);
    let (same, _, _) = run(&TrainConfig {
        embedding_dropout: Some(0.3),
        ..base.clone()
    });
    let (own, _, _) = run(&TrainConfig {
        embedding_dropout: Some(0.05),
        ..base.clone()
    });
    assert!(values(&unset) == values(&same));
    assert!(values(&unset) != values(&own));
}

/// One AdamW step from fresh moments moves each weight by the learning rate times g / (|g| +
/// eps): by the learning rate itself wherever the gradient is not tiny.
#[test]
fn the_embedding_table_learns_at_its_own_rate() {
    let one_step = TrainConfig {
        epochs: Some(1),
        batch_size: 40,
        dropout: 0.0,
        clip_norm: 0.0,
        lr: 0.01,
        ..config()
    };
    let table = |c: &Classifier| values(c).remove(EMBEDDING_TENSOR).unwrap();
    let (start, _, _) = run(&TrainConfig {
        freeze_embeddings: true,
        ..one_step.clone()
    });
    let largest_move = |scale: f64| {
        let (trained, _, _) = run(&TrainConfig {
            embedding_lr_scale: scale,
            ..one_step.clone()
        });
        let moved = (table(&trained).iter().zip(&table(&start)))
            .map(|(a, b)| f64::from((a - b).abs()))
            .fold(0.0, f64::max);
        let mut rest = values(&trained);
        rest.remove(EMBEDDING_TENSOR);
        (moved, rest)
    };
    let (full, rest_full) = largest_move(1.0);
    let (quarter, rest_quarter) = largest_move(0.25);
    assert!((full / 0.01 - 1.0).abs() < 1e-3, "{full}");
    assert!((quarter / 0.0025 - 1.0).abs() < 1e-3, "{quarter}");
    // The first step's forward pass reads the starting table: the rest of the network moves
    // the same whatever the table's rate.
    assert!(rest_full == rest_quarter);
}

#[test]
fn configs_without_the_options_read_as_the_defaults() {
    let json = r#"{"cell": "gru", "dropout": 0.2, "lr": 0.001}"#;
    let c: TrainConfig = serde_json::from_str(json).unwrap();
    assert_eq!(c.lr_schedule, LrSchedule::Constant);
    assert_eq!(
        (c.warmup, c.word_dropout, c.embedding_lr_scale),
        (0.0, 0.0, 1.0)
    );
    assert_eq!(c.embedding_dropout, None);
    assert_eq!(c.embedding_dropout_rate(), 0.2);
    assert_eq!(
        c.adversarial,
        Some(0.0),
        "a stored config without it trained without it"
    );
    // Unset, the word-vector rate stays out of the recorded config.
    let written = serde_json::to_value(TrainConfig::default()).unwrap();
    assert!(written.get("embedding_dropout").is_none());
    assert_eq!(written["lr_schedule"], "constant");
}

#[test]
fn out_of_range_options_are_refused() {
    let bad = [
        TrainConfig {
            adversarial: Some(-0.1),
            ..config()
        },
        TrainConfig {
            adversarial: Some(f64::INFINITY),
            ..config()
        },
        TrainConfig {
            warmup: 1.0,
            ..config()
        },
        TrainConfig {
            warmup: -0.1,
            ..config()
        },
        TrainConfig {
            word_dropout: 1.0,
            ..config()
        },
        TrainConfig {
            word_dropout: f32::NAN,
            ..config()
        },
        TrainConfig {
            embedding_dropout: Some(-0.5),
            ..config()
        },
        TrainConfig {
            embedding_lr_scale: 0.0,
            ..config()
        },
        TrainConfig {
            embedding_lr_scale: f64::INFINITY,
            ..config()
        },
        TrainConfig {
            lr: 1.0,
            embedding_lr_scale: 20.0,
            ..config()
        },
        TrainConfig {
            lr: 0.01,
            weight_decay: 50.0,
            embedding_lr_scale: 4.0,
            ..config()
        },
    ];
    for c in bad {
        assert!(c.validate().is_err(), "{c:?}");
    }
}

#[test]
fn train_flags_set_the_options_and_are_recorded() {
    let tmp = train_dir(40);
    let dir = tmp.path();
    let flags = [
        "--lr-schedule",
        "cosine",
        "--warmup",
        "0.1",
        "--word-dropout",
        "0.1",
        "--embedding-dropout",
        "0.2",
        "--embedding-lr-scale",
        "0.5",
        "--adversarial",
        "0.3",
    ];
    let out = common::run(dir, &tiny_train_args("m", "2", &flags));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("epoch 1:") && l.contains("| lr ")),
        "{err}"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("m/config.json")).unwrap()).unwrap();
    let recorded = &config["training"]["config"];
    assert_eq!(recorded["lr_schedule"], "cosine");
    assert_eq!(recorded["warmup"], 0.1);
    assert_eq!(recorded["word_dropout"], 0.1f32 as f64);
    assert_eq!(recorded["embedding_dropout"], 0.2f32 as f64);
    assert_eq!(recorded["embedding_lr_scale"], 0.5);
    assert_eq!(recorded["adversarial"], 0.3);
    let epochs = config["training"]["epochs"].as_array().unwrap();
    assert!(epochs[1]["lr"].as_f64().unwrap() < epochs[0]["lr"].as_f64().unwrap());

    for (flag, value, says) in [
        ("--warmup", "1", "warmup"),
        ("--word-dropout", "1.5", "word dropout"),
        ("--embedding-dropout", "1", "embedding dropout"),
        ("--embedding-lr-scale", "0", "embedding learning-rate scale"),
        ("--adversarial", "nan", "adversarial move"),
        ("--adversarial", "11", "adversarial move"),
        ("--lr-schedule", "step", "constant, linear or cosine"),
    ] {
        let out = common::run(dir, &tiny_train_args("bad", "1", &[flag, value]));
        let err = stderr(&out);
        assert!(
            !out.status.success() && err.contains(says),
            "{flag} {value}: {err}"
        );
    }
}

#[test]
fn the_options_at_their_defaults_train_the_same_weights_as_no_flags() {
    let tmp = train_dir(40);
    let dir = tmp.path();
    let defaults = [
        "--lr-schedule",
        "constant",
        "--warmup",
        "0",
        "--word-dropout",
        "0",
        "--embedding-dropout",
        "0.3",
        "--embedding-lr-scale",
        "1",
        "--adversarial",
        "auto",
        "--ema",
        "auto",
        "-q",
    ];
    for (out, flags) in [("plain", &["-q"][..]), ("explicit", &defaults[..])] {
        success(&common::run(dir, &tiny_train_args(out, "2", flags)));
    }
    let weights = |m: &str| std::fs::read(dir.join(m).join("model.safetensors")).unwrap();
    assert!(weights("plain") == weights("explicit"));
}

/// Training data above [`LARGE_TOKENS`] tokens, left to decide, average the weights and plan
/// [`LARGE_EPOCHS`] epochs without adversarial moves (told not to average, they keep every
/// epoch: the unit tests of `auto_epochs`). The run's `Started` event and its report say what
/// it chose.
#[test]
fn large_training_data_average_their_weights_over_fewer_epochs() {
    use lstm_sentiment::train::{LARGE_EMA, LARGE_EPOCHS, LARGE_TOKENS};
    let words = [
        "good", "bad", "film", "plot", "cast", "scene", "long", "short",
    ];
    // Texts of 512 tokens, the default max length: every token is read.
    let n = LARGE_TOKENS / 512 + 1;
    let large = common::labelled(n, &["positive", "negative"], |i| {
        let text: Vec<&str> = (0..512).map(|t| words[(i + t * t) % words.len()]).collect();
        text.join(" ")
    });
    let config = TrainConfig {
        ngram_buckets: Some(0),
        adversarial: None,
        epochs: None,
        ema: None,
        batch_size: 2,
        dev_fraction: 0.0,
        ..common::tiny_train_config(1)
    };
    let mut started = None;
    // The first step is enough to see what the run planned.
    let (_, report) = train(&large, None, &config, &mut |e| {
        if let TrainEvent::Started { epochs, ema, .. } = e {
            started = Some((*epochs, *ema));
        }
        ControlFlow::Break(())
    })
    .unwrap();
    assert!(report.interrupted);
    let c = &report.config;
    assert_eq!(
        (c.ema, c.epochs, c.adversarial),
        (Some(LARGE_EMA), Some(LARGE_EPOCHS), Some(0.0))
    );
    assert_eq!(started, Some((LARGE_EPOCHS, LARGE_EMA)));
}
