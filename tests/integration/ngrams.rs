//! Hashed bigrams (`ngram_buckets`): the bucket table's gradient, prediction's fused path
//! against the plain one, a model's files and commands, resuming, the memory check, and what
//! bigrams are for: a rule decided by the order of two words, learnt with them and not
//! without them in the same training.

use candle_core::{Device, Tensor, Var};
use lstm_sentiment::config::{ModelConfig, NGRAM_EMBEDDING_TENSOR};
use lstm_sentiment::encoder::Kernel;
use lstm_sentiment::model::{init_weights, Batch, Model, Weights};
use lstm_sentiment::train::{train_with, Checkpointing};
use lstm_sentiment::{train, Cell, Classifier, Example, Pooling, TrainConfig, TrainEvent};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;

fn model_config(cell: Cell, layers: usize, bidirectional: bool, buckets: usize) -> ModelConfig {
    // Built from JSON so that optional fields added later take their defaults.
    let json = serde_json::json!({
        "format_version": 3,
        "cell": cell,
        "vocab_size": 20,
        "embedding_dim": 6,
        "ngram_buckets": buckets,
        "hidden_size": 5,
        "num_layers": layers,
        "bidirectional": bidirectional,
        "labels": ["negative", "positive"],
        "max_length": 64,
        "tokenizer": lstm_sentiment::TokenizerConfig::default(),
    });
    let config: ModelConfig = serde_json::from_value(json).unwrap();
    config.validate().unwrap();
    config
}

/// Fresh weights with the bucket table drawn too (it starts at zero in training).
fn weights(config: &ModelConfig, seed: u64) -> Weights {
    let device = Device::Cpu;
    let mut weights = init_weights(config, &mut StdRng::seed_from_u64(seed), &device).unwrap();
    let mut rng = StdRng::seed_from_u64(seed + 100);
    let n = config.ngram_buckets * config.embedding_dim;
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let shape = (config.ngram_buckets, config.embedding_dim);
    let table = Tensor::from_vec(values, shape, &device).unwrap();
    weights.insert(NGRAM_EMBEDDING_TENSOR.to_string(), table);
    weights
}

/// Texts of mixed lengths over ids 2..20, one of them empty, pairs repeated within and across.
fn texts() -> Vec<Vec<u32>> {
    vec![
        vec![2, 3, 4, 2, 3],
        vec![],
        vec![19],
        vec![5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 2, 3],
        vec![3, 2, 3, 2],
        vec![17, 18, 19, 4, 4, 4, 4],
    ]
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2::<f32>().unwrap()
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    let pairs = a.iter().flatten().zip(b.iter().flatten());
    pairs.map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Prediction's fused path (each word's and each bucket's first-layer row, kept or worked out)
/// gives the plain path's features, whatever the cache holds, on every cell and shape.
#[test]
fn fused_prediction_with_buckets_matches_the_plain_path() {
    let device = Device::Cpu;
    let batch = Batch::new(&texts(), &device).unwrap();
    let mut seed = 0;
    for cell in [Cell::Lstm, Cell::Gru, Cell::Rnn] {
        for (layers, bidirectional) in [(1, false), (1, true), (2, true)] {
            // 13 buckets: shared by many pairs.
            seed += 1;
            let config = model_config(cell, layers, bidirectional, 13);
            let weights = weights(&config, seed);
            let model = Model::from_weights(&config, &weights).unwrap();
            let plain = model.clone().with_kernel(Kernel::Reference);
            let want = rows(&plain.forward(&batch, None).unwrap().features);
            let what = format!("{cell} x{layers}, bidirectional {bidirectional}");
            let mut first: Option<Vec<Vec<f32>>> = None;
            // No rows kept, some of each table, all of them.
            for budget in [0, 1 << 10, 1 << 20] {
                let cached = model.clone().with_predict_cache(budget).unwrap();
                for round in 0..3 {
                    let got = rows(&cached.forward(&batch, None).unwrap().features);
                    let d = max_diff(&got, &want);
                    assert!(
                        d < 1e-5,
                        "{what}, budget {budget}, round {round}: differs by {d}"
                    );
                    match &first {
                        None => first = Some(got),
                        Some(f) => assert!(
                            *f == got,
                            "{what}, budget {budget}, round {round}: what is kept changed a result"
                        ),
                    }
                }
            }
            // Without the bucket rows the features would differ.
            let mut zeroed = weights.clone();
            let zeros = weights[NGRAM_EMBEDDING_TENSOR].zeros_like().unwrap();
            zeroed.insert(NGRAM_EMBEDDING_TENSOR.to_string(), zeros);
            let without = Model::from_weights(&config, &zeroed).unwrap();
            let without = rows(&without.forward(&batch, None).unwrap().features);
            assert!(max_diff(&without, &want) > 1e-3, "{what}: buckets not read");
        }
    }
}

/// The plain path's gradient of the bucket table agrees with central differences of the loss.
/// (Training's row-sparse gradients are checked against this dense one in src/train.)
#[test]
fn bucket_table_gradient_matches_finite_differences() {
    let config = model_config(Cell::Lstm, 1, true, 7);
    let mut weights = weights(&config, 11);
    let table = Var::from_tensor(&weights[NGRAM_EMBEDDING_TENSOR]).unwrap();
    weights.insert(
        NGRAM_EMBEDDING_TENSOR.to_string(),
        table.as_tensor().clone(),
    );
    let batch = Batch::new(&texts(), &Device::Cpu).unwrap();
    let readout = Tensor::new(&[[0.7f32, -1.3]], &Device::Cpu).unwrap();
    let loss = |weights: &Weights| {
        let model = Model::from_weights(&config, weights).unwrap();
        let logits = model.forward(&batch, None).unwrap().logits;
        logits.broadcast_mul(&readout).unwrap().sum_all().unwrap()
    };
    let grads = loss(&weights).backward().unwrap();
    let grad: Vec<f32> = (grads.get(table.as_tensor()).unwrap())
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let base: Vec<f32> = table.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
    let eps = 1e-2;
    let mut largest = 0.0f32;
    for (i, &g) in grad.iter().enumerate() {
        let at = |delta: f32| {
            let mut values = base.clone();
            values[i] += delta;
            let mut moved = weights.clone();
            let t = Tensor::from_vec(values, (7, 6), &Device::Cpu).unwrap();
            moved.insert(NGRAM_EMBEDDING_TENSOR.to_string(), t);
            loss(&moved).to_scalar::<f32>().unwrap()
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
        assert!(
            (numeric - g).abs() < 2e-3 + 2e-2 * g.abs(),
            "entry {i}: autograd {g}, finite differences {numeric}"
        );
        largest = largest.max(g.abs());
    }
    assert!(
        largest > 0.05,
        "the gradient is too small to test ({largest})"
    );
}

/// Texts of 3 to 6 filler words with `alpha beta` (positive) or `beta alpha` (negative) at a
/// random place: both words are in every text, only their order decides.
fn order_examples(n: usize, seed: u64) -> Vec<Example> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let positive = i % 2 == 0;
            let fillers = rng.random_range(3..7);
            let mut words: Vec<String> = (0..fillers)
                .map(|_| format!("w{}", rng.random_range(0..12)))
                .collect();
            let pair = if positive { "alpha beta" } else { "beta alpha" };
            let at = rng.random_range(0..=words.len());
            words.insert(at, pair.to_string());
            Example {
                text: words.join(" "),
                label: if positive { "positive" } else { "negative" }.to_string(),
            }
        })
        .collect()
}

fn order_config(buckets: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        embedding_dim: 8,
        hidden_size: 8,
        ngram_buckets: Some(buckets),
        // One direction read to its final state: the recurrence alone has to carry the order.
        bidirectional: false,
        pooling: Pooling::Last,
        epochs: Some(10),
        lr: 0.01,
        patience: 0,
        seed,
        ..TrainConfig::default()
    }
}

/// The order of two words decides the label. Ten epochs that teach it to a model with
/// bigrams leave a model without them far from it: the bigram's own vector carries the rule
/// into the first layer at once, where the recurrence has to learn it.
#[test]
fn bigrams_learn_a_rule_of_word_order_that_the_same_training_without_them_does_not() {
    let (train_set, dev) = (order_examples(300, 1), order_examples(100, 2));
    for seed in [1, 2] {
        let accuracy = |buckets| {
            let config = order_config(buckets, seed);
            let (_, report) = train(&train_set, Some(&dev), &config, &mut |_| {
                ControlFlow::Continue(())
            })
            .unwrap();
            report.dev_accuracy
        };
        let (with, without) = (accuracy(1000), accuracy(0));
        assert!(
            with >= 0.95,
            "seed {seed}: with bigrams, dev accuracy {with}"
        );
        assert!(
            without <= 0.8,
            "seed {seed}: without bigrams, dev accuracy {without}"
        );
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lstm-sentiment"))
}

/// Runs the binary, panicking with its stderr on failure; returns its stdout.
fn run_ok(args: &[&str]) -> String {
    let out = bin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn write_tsv(path: &Path, examples: &[Example]) {
    let lines: String = (examples.iter())
        .map(|e| format!("{}\t{}\n", e.label, e.text))
        .collect();
    std::fs::write(path, lines).unwrap();
}

/// The tensor names and shapes of a safetensors file.
fn tensor_shapes(path: &Path) -> Vec<(String, Vec<usize>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut shapes: Vec<(String, Vec<usize>)> = (file.tensors().into_iter())
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect();
    shapes.sort();
    shapes
}

/// `train --ngram-buckets` writes the table and the field (format 3), `info` shows it, the
/// model loads back to the same results, `convert` keeps the table in float16, and
/// `export-embeddings` writes the word vectors only.
#[test]
fn a_model_with_buckets_saves_loads_converts_and_exports_its_word_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let (train_file, dir) = (tmp.path().join("train.tsv"), tmp.path().join("m"));
    write_tsv(&train_file, &order_examples(60, 3));
    let (train_path, model) = (train_file.to_str().unwrap(), dir.to_str().unwrap());
    let flags = ["--embedding-dim", "4", "--hidden", "4", "--epochs", "1"];
    let mut args = vec!["train", "-q", "--no-checkpoint", "--train", train_path];
    args.extend(["--out", model, "--ngram-buckets", "50"]);
    args.extend(flags);
    run_ok(&args);

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["format_version"], 3);
    assert_eq!(config["ngram_buckets"], 50);
    assert_eq!(config["training"]["config"]["ngram_buckets"], 50);
    let shapes = tensor_shapes(&dir.join("model.safetensors"));
    assert!(shapes.contains(&(NGRAM_EMBEDDING_TENSOR.to_string(), vec![50, 4])));
    let info = run_ok(&["info", "--model", model]);
    assert!(
        info.contains("bigrams:        50 hashed buckets x 4"),
        "{info}"
    );
    let card = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(card.contains("hashed into 50 buckets"), "{card}");

    let texts = ["w1 alpha beta w2", "beta alpha", "", "w3 w3 unseen"];
    let loaded = Classifier::load(&dir).unwrap();
    let again = tmp.path().join("again");
    loaded.save(&again).unwrap();
    let reloaded = Classifier::load(&again).unwrap();
    assert_eq!(
        loaded.logits(&texts).unwrap(),
        reloaded.logits(&texts).unwrap()
    );
    assert_eq!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        std::fs::read(again.join("model.safetensors")).unwrap()
    );

    let half = tmp.path().join("half");
    run_ok(&[
        "convert",
        "--model",
        model,
        "--out",
        half.to_str().unwrap(),
        "--dtype",
        "f16",
    ]);
    let converted = Classifier::load(&half).unwrap();
    let d = max_diff(
        &converted.logits(&texts).unwrap(),
        &loaded.logits(&texts).unwrap(),
    );
    assert!(d < 1e-2, "float16 moved logits by {d}");
    let shapes = tensor_shapes(&half.join("model.safetensors"));
    assert!(shapes.contains(&(NGRAM_EMBEDDING_TENSOR.to_string(), vec![50, 4])));

    let vectors = tmp.path().join("vectors.txt");
    let vectors_path = vectors.to_str().unwrap();
    run_ok(&["export-embeddings", "--model", model, "--out", vectors_path]);
    let vocab = loaded.config().vocab_size;
    let exported = lstm_sentiment::vectors::Embeddings::from_file(
        &vectors,
        lstm_sentiment::vectors::Utf8::Strict,
    )
    .unwrap();
    assert!(
        exported.len() <= vocab && exported.len() + 2 >= vocab,
        "{} vectors for {vocab} words",
        exported.len()
    );
    assert!(exported.vector("alpha").is_some());
}

fn weight_values(c: &Classifier) -> Vec<(String, Vec<f32>)> {
    (c.weights().iter())
        .map(|(k, t)| (k.clone(), t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

/// An uninterrupted run of `config`, and the same run stopped after its first epoch and resumed.
fn uninterrupted_and_resumed(config: &TrainConfig) -> (Classifier, Classifier) {
    let tmp = tempfile::tempdir().unwrap();
    let data = order_examples(40, 4);
    let (reference, _) = train(&data, None, config, &mut |_| ControlFlow::Continue(())).unwrap();
    let checkpointing = Checkpointing {
        dir: Some(tmp.path().join("checkpoint")),
        resume: false,
    };
    let (_, stopped) = train_with(&data, None, config, &checkpointing, &mut |e| match e {
        TrainEvent::Epoch(_) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .unwrap();
    assert!(stopped.interrupted);
    let resuming = Checkpointing {
        resume: true,
        ..checkpointing
    };
    let given = TrainConfig::default();
    let (resumed, report) = train_with(&data, None, &given, &resuming, &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(report.config.ngram_buckets, Some(64));
    assert_eq!(report.config.ema, config.ema);
    (reference, resumed)
}

fn resumable_config(ema: f64) -> TrainConfig {
    TrainConfig {
        epochs: Some(2),
        batch_size: 8,
        dev_fraction: 0.0,
        ema: Some(ema),
        ..order_config(64, 5)
    }
}

/// A run stopped after its first epoch and resumed ends with the uninterrupted run's weights,
/// bucket table included.
#[test]
fn a_resumed_run_with_buckets_ends_with_the_same_weights() {
    let (reference, resumed) = uninterrupted_and_resumed(&resumable_config(0.0));
    assert!(weight_values(&reference)
        .iter()
        .any(|(k, _)| k == NGRAM_EMBEDDING_TENSOR));
    assert!(
        weight_values(&resumed) == weight_values(&reference),
        "resumed weights differ"
    );
}

/// With `ema` the run keeps the average of its weights, which differs from the weights
/// themselves; a resumed run continues the average from its checkpoint (word and bucket rows
/// included) and keeps the same one.
#[test]
fn a_resumed_run_keeps_the_same_average_of_its_weights() {
    let (reference, resumed) = uninterrupted_and_resumed(&resumable_config(0.99));
    let plain = train(
        &order_examples(40, 4),
        None,
        &resumable_config(0.0),
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap()
    .0;
    let averaged = weight_values(&reference);
    for (name, values) in weight_values(&plain) {
        let kept = &averaged.iter().find(|(k, _)| *k == name).unwrap().1;
        assert!(
            *kept != values,
            "{name}: the average is the weights themselves"
        );
    }
    assert!(
        weight_values(&resumed) == averaged,
        "resumed averages differ"
    );
}

/// Vectors from a file start the word table only, and frozen word vectors leave the bucket
/// table free to learn from its zero start.
#[test]
fn vectors_start_the_word_table_and_frozen_words_leave_the_buckets_learning() {
    let tmp = tempfile::tempdir().unwrap();
    let vectors = tmp.path().join("vectors.txt");
    std::fs::write(&vectors, "2 4\nalpha 0.5 -0.5 0.25 1\nbeta -1 0.5 0 0.75\n").unwrap();
    let config = TrainConfig {
        embedding_dim: 4,
        hidden_size: 4,
        ngram_buckets: Some(64),
        epochs: Some(1),
        dev_fraction: 0.0,
        embeddings: lstm_sentiment::EmbeddingInit::Vectors { path: vectors },
        freeze_embeddings: true,
        ..TrainConfig::default()
    };
    let examples = order_examples(40, 7);
    let (classifier, _) =
        train(&examples, None, &config, &mut |_| ControlFlow::Continue(())).unwrap();
    let table = |name: &str| -> Vec<Vec<f32>> { rows(&classifier.weights()[name]) };
    let words = table(lstm_sentiment::config::EMBEDDING_TENSOR);
    let id = |w: &str| classifier.tokenizer().encode(w, 1).unwrap()[0] as usize;
    assert_eq!(words[id("alpha")], [0.5, -0.5, 0.25, 1.0]);
    assert_eq!(words[id("beta")], [-1.0, 0.5, 0.0, 0.75]);
    let buckets = table(NGRAM_EMBEDDING_TENSOR);
    let moved = buckets
        .iter()
        .filter(|r| r.iter().any(|&v| v != 0.0))
        .count();
    assert!(moved > 10, "{moved} of 64 bucket rows moved");
}

/// A bucket table too large for the machine is refused before training starts, with the
/// parameters it counts.
#[test]
fn a_bucket_table_beyond_the_machines_memory_is_refused_up_front() {
    let Some(memory) = machine_memory() else {
        return;
    };
    // 2^31 rows of 128 floats, with gradients and AdamW state: 4 TiB.
    let buckets = 1usize << 31;
    assert!(
        (buckets as u64) * 128 * 16 > memory,
        "a machine this large needs a larger table"
    );
    let config = TrainConfig {
        ngram_buckets: Some(buckets),
        ..TrainConfig::default()
    };
    let err = train(&order_examples(20, 6), None, &config, &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("training needs at least"), "{err}");
    assert!(err.contains("parameters"), "{err}");
}

/// The machine's memory in bytes from /proc/meminfo, or `None` where it cannot be read.
fn machine_memory() -> Option<u64> {
    lstm_sentiment::memory::machine_memory()
}

/// Left to the data (`ngram_buckets: None`, `adversarial: None`, train's defaults), a run adds
/// the bigram table to Chinese texts, which the tokenizer splits into characters, and not to
/// English ones, and moves Chinese texts further in adversarial training; the model and the
/// report record what it chose.
#[test]
fn the_default_gives_chinese_texts_bigrams_and_a_longer_adversarial_move() {
    use lstm_sentiment::ngram::AUTO_BUCKETS;
    use lstm_sentiment::train::{AUTO_ADVERSARIAL, AUTO_ADVERSARIAL_LONG};
    let chinese = crate::common::labelled(20, &["positive", "negative"], |i| {
        ["味道不错送餐很快", "太难吃了不会再点"][i % 2].to_string()
    });
    let english = crate::common::sentiment_examples(20);
    for (examples, want, move_) in [
        (chinese, AUTO_BUCKETS, AUTO_ADVERSARIAL_LONG),
        (english, 0, AUTO_ADVERSARIAL),
    ] {
        let config = TrainConfig {
            ngram_buckets: None,
            adversarial: None,
            ..crate::common::tiny_train_config(1)
        };
        let (model, report) = crate::common::trained(&examples, None, &config);
        assert_eq!(model.config().ngram_buckets, want);
        assert_eq!(report.config.adversarial, Some(move_));
        assert_eq!(report.config.ngram_buckets, Some(want));
    }
}
