//! Integration tests of the library API: padding invariance, bidirectional reading, an
//! independent reference forward pass, reproducible training, save/load round trips,
//! multi-class use, learning on a separable task and sharing across threads. (Load errors: see
//! `load_errors`.)
//!
//! Everything runs on tiny models (embedding 8, hidden 6) so each test stays fast in debug.

use crate::common::{
    assert_close, assert_mentions, bf16_or_skip, error_text, ex, labelled, read_json, trained, tsv,
    Lcg,
};
use candle_core::{Device, Tensor};
use lstm_sentiment::config::FORMAT_VERSION;
use lstm_sentiment::model::{init_weights, Batch, Model, Weights};
use lstm_sentiment::model_dir::{self, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use lstm_sentiment::tokenizer::TextTokenizer;
use lstm_sentiment::train::EpochRecord;
use lstm_sentiment::{
    train, Cell, Classifier, Example, ModelConfig, TokenizerConfig, TrainConfig, TrainEvent,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

const CELLS: [Cell; 3] = [Cell::Lstm, Cell::Gru, Cell::Rnn];
const TOL: f32 = 1e-5;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const POSITIVE: [&str; 5] = ["good", "great", "fine", "lovely", "superb"];
const NEGATIVE: [&str; 5] = ["bad", "awful", "poor", "terrible", "dull"];
const FILLER: [&str; 16] = [
    "the", "movie", "plot", "actors", "was", "and", "really", "story", "film", "music", "scenes",
    "ending", "a", "very", "quite", "cast",
];

/// `fillers` filler words with one or two of `cues` inserted at random places.
fn cue_text(rng: &mut Lcg, fillers: usize, cues: &[&str]) -> String {
    let mut words: Vec<&str> = (0..fillers)
        .map(|_| FILLER[rng.below(FILLER.len())])
        .collect();
    for _ in 0..1 + rng.below(2) {
        let at = rng.below(words.len() + 1);
        words.insert(at, cues[rng.below(cues.len())]);
    }
    words.join(" ")
}

/// `n` sentiment examples: 2-7 filler words with one or two same-polarity words inserted,
/// labels alternating so both classes are balanced.
fn sentiment_examples(n: usize, seed: u64) -> Vec<Example> {
    let mut rng = Lcg(seed);
    labelled(n, &["positive", "negative"], |i| {
        let fillers = 2 + rng.below(6);
        cue_text(
            &mut rng,
            fillers,
            if i % 2 == 0 { &POSITIVE } else { &NEGATIVE },
        )
    })
}

fn tiny_config(cell: Cell, bidirectional: bool, num_layers: usize) -> TrainConfig {
    TrainConfig {
        cell,
        embedding_dim: 8,
        hidden_size: 6,
        num_layers,
        bidirectional,
        dropout: 0.1,
        epochs: Some(1),
        batch_size: 8,
        lr: 0.01,
        patience: 0,
        seed: 7,
        ..TrainConfig::default()
    }
}

/// A tokenizer over the sentiment vocabulary (filler and cue words).
fn vocabulary_tokenizer() -> TextTokenizer {
    let text = FILLER
        .iter()
        .chain(&POSITIVE)
        .chain(&NEGATIVE)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    TextTokenizer::build([text.as_str()], &TokenizerConfig::default()).unwrap()
}

fn hand_config(
    cell: Cell,
    bidirectional: bool,
    num_layers: usize,
    vocab_size: usize,
) -> ModelConfig {
    // Built from JSON so that optional fields added later take their defaults.
    let json = serde_json::json!({
        "format_version": FORMAT_VERSION,
        "cell": cell,
        "vocab_size": vocab_size,
        "embedding_dim": 8,
        "hidden_size": 6,
        "num_layers": num_layers,
        "bidirectional": bidirectional,
        "labels": ["negative", "positive"],
        "max_length": 512,
        "tokenizer": TokenizerConfig::default(),
    });
    let config: ModelConfig = serde_json::from_value(json).unwrap();
    config.validate().unwrap();
    config
}

/// Fresh weights with word vectors of unit scale and a non-zero [PAD] row, so that any
/// leak of padding into a result, or any mix-up of positions, shows up clearly.
fn hand_weights(config: &ModelConfig, seed: u64) -> Weights {
    let device = Device::Cpu;
    let mut weights = init_weights(config, &mut StdRng::seed_from_u64(seed), &device).unwrap();
    let mut rng = Lcg(seed ^ 0x9e37_79b9);
    let values: Vec<f32> = (0..config.vocab_size * config.embedding_dim)
        .map(|_| rng.unit())
        .collect();
    let table =
        Tensor::from_vec(values, (config.vocab_size, config.embedding_dim), &device).unwrap();
    weights.insert("embedding.weight".into(), table);
    weights
}

/// Builds a Classifier from parts the only public way: write a model directory and load it.
fn classifier_from_parts(
    config: &ModelConfig,
    tokenizer: &TextTokenizer,
    weights: &Weights,
) -> Classifier {
    let dir = tempfile::tempdir().unwrap();
    model_dir::save(dir.path(), config, tokenizer, weights).unwrap();
    Classifier::load(dir.path()).unwrap()
}

fn hand_classifier(cell: Cell, bidirectional: bool, num_layers: usize, seed: u64) -> Classifier {
    let tokenizer = vocabulary_tokenizer();
    let config = hand_config(cell, bidirectional, num_layers, tokenizer.vocab_size());
    classifier_from_parts(&config, &tokenizer, &hand_weights(&config, seed))
}

fn long_text(words: usize, seed: u64) -> String {
    let mut rng = Lcg(seed);
    let vocab: Vec<&str> = FILLER
        .iter()
        .chain(&POSITIVE)
        .chain(&NEGATIVE)
        .copied()
        .collect();
    (0..words)
        .map(|_| vocab[rng.below(vocab.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// 1. Padding invariance
// ---------------------------------------------------------------------------------------------

/// Every text gives the same logits, sentence vector and label alone as inside a batch with
/// much longer texts, an empty text and an all-unknown text.
fn check_padding_invariance(classifier: &Classifier, what: &str) {
    let texts = [
        long_text(40, 1),
        "good plot".to_string(),
        String::new(),
        long_text(25, 2),
        "zzz qqq xyzzy".to_string(),
        "the ending was awful".to_string(),
        "great".to_string(),
    ];
    let batch_logits = classifier.logits(&texts).unwrap();
    let batch_embed = classifier.embed(&texts).unwrap();
    let batch_pred = classifier.predict_batch(&texts).unwrap();
    assert_eq!(batch_logits.len(), texts.len());
    let features = classifier.config().feature_size();
    for (i, text) in texts.iter().enumerate() {
        let ctx = format!("{what}, text {i} ({text:?})");
        let alone_logits = classifier.logits(&[text]).unwrap();
        let alone_embed = classifier.embed(&[text]).unwrap();
        let alone_pred = classifier.predict(text).unwrap();
        assert_eq!(alone_embed[0].len(), features, "{ctx}: feature width");
        assert_close(
            &alone_logits[0],
            &batch_logits[i],
            TOL,
            &format!("{ctx}: logits"),
        );
        assert_close(
            &alone_embed[0],
            &batch_embed[i],
            TOL,
            &format!("{ctx}: embed"),
        );
        assert_eq!(alone_pred.label, batch_pred[i].label, "{ctx}: label");
    }
    // The empty text has no tokens: its state never leaves zero, whatever it is batched with.
    assert!(
        batch_embed[2].iter().all(|&v| v == 0.0),
        "{what}: the empty text's sentence vector should be all zeros: {:?}",
        batch_embed[2]
    );
    // The texts do give different vectors: the comparison above is not vacuous.
    assert!(
        batch_embed[1]
            .iter()
            .zip(&batch_embed[5])
            .any(|(a, b)| (a - b).abs() > 1e-3),
        "{what}: different texts should give different sentence vectors"
    );
}

fn padding_invariance_for(cell: Cell) {
    let data = sentiment_examples(24, 11);
    for bidirectional in [false, true] {
        for layers in [1, 2] {
            let what = format!("{cell} bidirectional={bidirectional} layers={layers}");
            let (trained, _) = trained(
                &data,
                Some(&data[..6]),
                &tiny_config(cell, bidirectional, layers),
            );
            check_padding_invariance(&trained, &format!("trained {what}"));
            let built = hand_classifier(cell, bidirectional, layers, 3);
            check_padding_invariance(&built, &format!("hand-built {what}"));
        }
    }
}

#[test]
fn padding_invariance_lstm() {
    padding_invariance_for(Cell::Lstm);
}

#[test]
fn padding_invariance_gru() {
    padding_invariance_for(Cell::Gru);
}

#[test]
fn padding_invariance_rnn() {
    padding_invariance_for(Cell::Rnn);
}

// ---------------------------------------------------------------------------------------------
// 2. Bidirectional models read each text backwards from its own last token
// ---------------------------------------------------------------------------------------------

/// The features of `model` for token sequences, batched together (so padded).
fn features(model: &Model, seqs: &[Vec<u32>]) -> Vec<Vec<f32>> {
    let batch = Batch::new(seqs, &Device::Cpu).unwrap();
    model
        .forward(&batch, None)
        .unwrap()
        .features
        .to_vec2::<f32>()
        .unwrap()
}

/// Swaps the two halves of the last dimension of a 2-D tensor.
fn swap_column_halves(t: &Tensor) -> Tensor {
    let (_, cols) = t.dims2().unwrap();
    let half = cols / 2;
    Tensor::cat(
        &[
            t.narrow(1, half, half).unwrap(),
            t.narrow(1, 0, half).unwrap(),
        ],
        1,
    )
    .unwrap()
}

/// With one layer, the backward half of a bidirectional model's sentence vector for a text
/// is the forward state of a unidirectional model (holding the reverse weights) over the
/// reversed text, and the forward half is the unidirectional forward state over the text.
/// Checked in one padded batch of texts of different lengths.
#[test]
fn bidirectional_backward_half_reads_each_text_from_its_end() {
    for cell in CELLS {
        let bi = hand_config(cell, true, 1, 30);
        let w = hand_weights(&bi, 5);
        let uni = hand_config(cell, false, 1, 30);
        let head_w = w["head.weight"].narrow(1, 0, 6).unwrap();
        let mut fwd = Weights::new();
        let mut bwd = Weights::new();
        for (name, t) in &w {
            if let Some(base) = name.strip_suffix("_reverse") {
                bwd.insert(base.to_string(), t.clone());
            } else if name.starts_with("encoder.") {
                fwd.insert(name.clone(), t.clone());
            }
        }
        for m in [&mut fwd, &mut bwd] {
            m.insert("embedding.weight".into(), w["embedding.weight"].clone());
            m.insert("head.weight".into(), head_w.clone());
            m.insert("head.bias".into(), w["head.bias"].clone());
        }
        let bi_model = Model::from_weights(&bi, &w).unwrap();
        let fwd_model = Model::from_weights(&uni, &fwd).unwrap();
        let bwd_model = Model::from_weights(&uni, &bwd).unwrap();

        let seqs: Vec<Vec<u32>> = vec![
            vec![2, 3, 4],
            vec![5, 6, 7, 8, 9, 10, 11, 12, 13],
            vec![],
            vec![14],
            vec![4, 3, 2],
            vec![20, 21, 22, 23, 24, 25],
        ];
        let reversed: Vec<Vec<u32>> = seqs
            .iter()
            .map(|s| s.iter().rev().copied().collect())
            .collect();
        let both = features(&bi_model, &seqs);
        let forward = features(&fwd_model, &seqs);
        let backward = features(&bwd_model, &reversed);
        for (i, seq) in seqs.iter().enumerate() {
            let what = format!("{cell}, sequence {seq:?}");
            assert_close(
                &both[i][..6],
                &forward[i],
                TOL,
                &format!("{what}: forward half"),
            );
            assert_close(
                &both[i][6..],
                &backward[i],
                TOL,
                &format!("{what}: backward half"),
            );
        }
        // Not order-invariant: "2 3 4" and "4 3 2" differ in both halves.
        for half in [0..6, 6..12] {
            assert!(
                both[0][half.clone()]
                    .iter()
                    .zip(&both[4][half.clone()])
                    .any(|(a, b)| (a - b).abs() > 1e-3),
                "{cell}: reversing the words should change features {half:?}"
            );
        }
    }
}

/// Symmetry for stacked bidirectional models: swapping every layer's forward and reverse
/// weights (and, above the first layer, the halves of the input they read) and reversing each
/// text must give the original sentence vector with its two halves swapped.
#[test]
fn bidirectional_stack_is_symmetric_under_reversal() {
    for cell in CELLS {
        for layers in [1, 2, 3] {
            let config = hand_config(cell, true, layers, 30);
            let w = hand_weights(&config, 9);
            let mut swapped = Weights::new();
            for (name, t) in &w {
                let mut t = t.clone();
                let target = if let Some(base) = name.strip_suffix("_reverse") {
                    base.to_string()
                } else if name.starts_with("encoder.") {
                    format!("{name}_reverse")
                } else {
                    name.clone()
                };
                if name.starts_with("encoder.weight_ih_l")
                    && !name.starts_with("encoder.weight_ih_l0")
                {
                    t = swap_column_halves(&t);
                }
                swapped.insert(target, t);
            }
            let model = Model::from_weights(&config, &w).unwrap();
            let mirror = Model::from_weights(&config, &swapped).unwrap();
            let seqs: Vec<Vec<u32>> = vec![
                vec![2, 3, 4],
                vec![5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                vec![16],
                vec![],
                vec![17, 18, 19, 2, 3],
            ];
            let reversed: Vec<Vec<u32>> = seqs
                .iter()
                .map(|s| s.iter().rev().copied().collect())
                .collect();
            let a = features(&model, &seqs);
            let b = features(&mirror, &reversed);
            for (i, seq) in seqs.iter().enumerate() {
                let mut expected = a[i][6..].to_vec();
                expected.extend_from_slice(&a[i][..6]);
                assert_close(
                    &b[i],
                    &expected,
                    TOL,
                    &format!("{cell} layers={layers} sequence {seq:?}"),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2b. An independent reference forward pass (PyTorch semantics, in f64)
// ---------------------------------------------------------------------------------------------

fn mat(weights: &Weights, name: &str) -> Vec<Vec<f64>> {
    weights[name]
        .to_vec2::<f32>()
        .unwrap()
        .into_iter()
        .map(|row| row.into_iter().map(f64::from).collect())
        .collect()
}

fn vector(weights: &Weights, name: &str) -> Vec<f64> {
    weights[name]
        .to_vec1::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn affine(w: &[Vec<f64>], x: &[f64], b: &[f64]) -> Vec<f64> {
    w.iter()
        .zip(b)
        .map(|(row, bias)| row.iter().zip(x).map(|(a, v)| a * v).sum::<f64>() + bias)
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// One direction of one layer over `xs`, PyTorch's equations; returns the state at each step.
fn reference_direction(
    cell: Cell,
    weights: &Weights,
    suffix: &str,
    hidden: usize,
    xs: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let w_ih = mat(weights, &format!("encoder.weight_ih{suffix}"));
    let w_hh = mat(weights, &format!("encoder.weight_hh{suffix}"));
    let b_ih = vector(weights, &format!("encoder.bias_ih{suffix}"));
    let b_hh = vector(weights, &format!("encoder.bias_hh{suffix}"));
    let mut h = vec![0.0; hidden];
    let mut c = vec![0.0; hidden];
    let mut out = Vec::new();
    for x in xs {
        let gi = affine(&w_ih, x, &b_ih);
        let gh = affine(&w_hh, &h, &b_hh);
        let g = |k: usize, j: usize| k * hidden + j;
        h = match cell {
            Cell::Rnn => (0..hidden).map(|j| (gi[j] + gh[j]).tanh()).collect(),
            Cell::Lstm => {
                let mut next = vec![0.0; hidden];
                for j in 0..hidden {
                    let i_gate = sigmoid(gi[g(0, j)] + gh[g(0, j)]);
                    let f_gate = sigmoid(gi[g(1, j)] + gh[g(1, j)]);
                    let g_gate = (gi[g(2, j)] + gh[g(2, j)]).tanh();
                    let o_gate = sigmoid(gi[g(3, j)] + gh[g(3, j)]);
                    c[j] = f_gate * c[j] + i_gate * g_gate;
                    next[j] = o_gate * c[j].tanh();
                }
                next
            }
            Cell::Gru => (0..hidden)
                .map(|j| {
                    let r = sigmoid(gi[g(0, j)] + gh[g(0, j)]);
                    let z = sigmoid(gi[g(1, j)] + gh[g(1, j)]);
                    let n = (gi[g(2, j)] + r * gh[g(2, j)]).tanh();
                    (1.0 - z) * n + z * h[j]
                })
                .collect(),
        };
        out.push(h.clone());
    }
    out
}

/// Sentence vector and logits of one token sequence, computed without candle.
fn reference_forward(config: &ModelConfig, weights: &Weights, ids: &[u32]) -> (Vec<f64>, Vec<f64>) {
    let table = mat(weights, "embedding.weight");
    let mut input: Vec<Vec<f64>> = ids.iter().map(|&id| table[id as usize].clone()).collect();
    let hidden = config.hidden_size;
    let mut finals = Vec::new();
    for layer in 0..config.num_layers {
        finals.clear();
        let mut per_step: Vec<Vec<f64>> = vec![Vec::new(); input.len()];
        for dir in 0..config.num_directions() {
            let suffix = match dir {
                0 => format!("_l{layer}"),
                _ => format!("_l{layer}_reverse"),
            };
            let mut xs = input.clone();
            if dir == 1 {
                xs.reverse();
            }
            let mut states = reference_direction(config.cell, weights, &suffix, hidden, &xs);
            finals.push(states.last().cloned().unwrap_or_else(|| vec![0.0; hidden]));
            if dir == 1 {
                states.reverse();
            }
            for (t, s) in states.into_iter().enumerate() {
                per_step[t].extend(s);
            }
        }
        input = per_step;
    }
    let features: Vec<f64> = finals.concat();
    let logits = affine(
        &mat(weights, "head.weight"),
        &features,
        &vector(weights, "head.bias"),
    );
    (features, logits)
}

/// The encoder, embedding and head agree with a plain re-implementation of PyTorch's
/// nn.LSTM / nn.GRU / nn.RNN (gate order, GRU's b_hn inside r, stacking, reverse direction
/// over each text's own tokens) for every cell, direction setting and depth.
#[test]
fn forward_pass_matches_a_reference_implementation() {
    let texts = [
        "good plot",
        "the movie was really awful and the ending was dull",
        "",
        "superb",
        "the cast and the music were lovely but the story was poor",
        "zzz unknown words only",
    ];
    for cell in CELLS {
        for bidirectional in [false, true] {
            for layers in [1, 2] {
                let what = format!("{cell} bidirectional={bidirectional} layers={layers}");
                let classifier = hand_classifier(cell, bidirectional, layers, 21);
                let config = classifier.config();
                let embeds = classifier.embed(&texts).unwrap();
                let logits = classifier.logits(&texts).unwrap();
                for (i, text) in texts.iter().enumerate() {
                    let ids = classifier
                        .tokenizer()
                        .encode(text, config.max_length)
                        .unwrap();
                    let (f, l) = reference_forward(config, classifier.weights(), &ids);
                    let f: Vec<f32> = f.into_iter().map(|v| v as f32).collect();
                    let l: Vec<f32> = l.into_iter().map(|v| v as f32).collect();
                    assert_close(&embeds[i], &f, TOL, &format!("{what}, {text:?}: embed"));
                    assert_close(&logits[i], &l, TOL, &format!("{what}, {text:?}: logits"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Reproducible training
// ---------------------------------------------------------------------------------------------

/// Removes the wall-clock fields ("seconds", "tokens_per_second") everywhere in a JSON value.
fn without_timings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("seconds");
            map.remove("tokens_per_second");
            map.values_mut().for_each(without_timings);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_timings),
        _ => {}
    }
}

#[test]
fn same_seed_gives_byte_identical_model_files() {
    let data = sentiment_examples(40, 3);
    let mut config = tiny_config(Cell::Lstm, true, 2);
    config.epochs = Some(2);
    config.dropout = 0.3;
    // No dev set given: the seeded hold-out split is part of what must repeat.
    let (a, _) = trained(&data, None, &config);
    let (b, _) = trained(&data, None, &config);
    config.seed += 1;
    let (c, _) = trained(&data, None, &config);

    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (classifier, dir) in [&a, &b, &c].into_iter().zip(&dirs) {
        classifier.save(dir.path()).unwrap();
    }
    let bytes = |i: usize, file: &str| std::fs::read(dirs[i].path().join(file)).unwrap();
    assert!(
        bytes(0, WEIGHTS_FILE) == bytes(1, WEIGHTS_FILE),
        "same data and seed must give byte-identical {WEIGHTS_FILE}"
    );
    assert!(
        bytes(0, TOKENIZER_FILE) == bytes(1, TOKENIZER_FILE),
        "same data and seed must give byte-identical {TOKENIZER_FILE}"
    );
    let mut ja = read_json(&dirs[0].path().join(CONFIG_FILE));
    let mut jb = read_json(&dirs[1].path().join(CONFIG_FILE));
    without_timings(&mut ja);
    without_timings(&mut jb);
    assert_eq!(ja, jb, "config.json differs beyond its timing fields");
    assert!(
        bytes(0, WEIGHTS_FILE) != bytes(2, WEIGHTS_FILE),
        "a different seed should give different weights"
    );
}

/// Batches big enough to be split across threads (here into 3 parts) still train reproducibly
/// for a given number of threads, and give the model that one thread gives, to float rounding.
#[test]
fn split_batches_train_reproducibly_per_thread_count() {
    let data = sentiment_examples(64, 5);
    let mut config = tiny_config(Cell::Lstm, true, 2);
    config.batch_size = 32;
    config.epochs = Some(2);
    let in_pool = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        pool.install(|| trained(&data, None, &config).0)
            .save(dir.path())
            .unwrap();
        let weights = dir.path().join(WEIGHTS_FILE);
        (
            std::fs::read(&weights).unwrap(),
            Classifier::load(dir.path()).unwrap(),
        )
    };
    let (three, model) = in_pool(3);
    assert!(
        three == in_pool(3).0,
        "3 threads, same seed: different weights"
    );
    let (_, one) = in_pool(1);
    let texts = ["good great fine", "bad awful", "a b c"];
    let (a, b) = (model.logits(&texts).unwrap(), one.logits(&texts).unwrap());
    for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
        assert!(
            (x - y).abs() < 1e-3,
            "logits {a:?} (3 threads) vs {b:?} (1)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Save -> load round trip
// ---------------------------------------------------------------------------------------------

/// Equal JSON, except that numbers may differ by a relative 1e-12.
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn save_then_load_gives_identical_results() {
    let data = sentiment_examples(30, 4);
    let (trained, _) = trained(&data, Some(&data[..8]), &tiny_config(Cell::Gru, true, 2));
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("nested").join("model");
    trained.save(&model_dir).unwrap();
    let loaded = Classifier::load(&model_dir).unwrap();

    let texts = [
        "good plot",
        "",
        "zzz qqq xyzzy",
        "the movie was really awful and the ending was dull",
        "GREAT Film!!!",
    ];
    assert_eq!(
        trained.logits(&texts).unwrap(),
        loaded.logits(&texts).unwrap()
    );
    assert_eq!(
        trained.embed(&texts).unwrap(),
        loaded.embed(&texts).unwrap()
    );
    assert_eq!(
        trained.predict_batch(&texts).unwrap(),
        loaded.predict_batch(&texts).unwrap()
    );
    // Everything but the training record is equal exactly; the record's floats are allowed
    // one rounding step (see `config_floats_survive_save_and_load_exactly`).
    let mut a = trained.config().clone();
    let mut b = loaded.config().clone();
    let (ra, rb) = (a.training.take(), b.training.take());
    assert_eq!(a, b, "the loaded config differs");
    let (ra, rb) = (
        ra.expect("trained config has a training record"),
        rb.unwrap(),
    );
    assert!(json_close(&ra, &rb), "training record differs:\n{ra}\n{rb}");
    assert!(
        loaded.config().training.is_some(),
        "the training record is kept"
    );
    assert_eq!(trained.labels(), loaded.labels());
    assert_eq!(
        trained.weights().keys().collect::<Vec<_>>(),
        loaded.weights().keys().collect::<Vec<_>>()
    );
    for (name, t) in trained.weights() {
        let u = &loaded.weights()[name];
        assert_eq!(t.dims(), u.dims(), "{name}");
        assert_eq!(
            t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            u.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            "{name}"
        );
    }
    // Saving again over the same directory works and changes nothing.
    loaded.save(&model_dir).unwrap();
    let again = Classifier::load(&model_dir).unwrap();
    assert_eq!(
        trained.logits(&texts).unwrap(),
        again.logits(&texts).unwrap()
    );
}

/// config.json must give back the very config that was saved, training record included.
/// Fails today: serde_json is built without its `float_roundtrip` feature, so its parser
/// rounds some 17-digit numbers (like this `tokens_per_second` seen in a real run) one ulp off,
/// and `Classifier::load(dir).config() != saved.config()` in about half of real trainings.
#[test]
fn config_floats_survive_save_and_load_exactly() {
    let tokenizer = vocabulary_tokenizer();
    let mut config = hand_config(Cell::Lstm, false, 1, tokenizer.vocab_size());
    config.training = Some(serde_json::json!({ "tokens_per_second": 1119.6636534886081_f64 }));
    let weights = hand_weights(&config, 1);
    let dir = tempfile::tempdir().unwrap();
    model_dir::save(dir.path(), &config, &tokenizer, &weights).unwrap();
    let loaded = Classifier::load(dir.path()).unwrap();
    assert_eq!(loaded.config(), &config);
}

// ---------------------------------------------------------------------------------------------
// 5. Multi-class
// ---------------------------------------------------------------------------------------------

/// Keyword-driven three-way topic data.
fn topic_examples(n: usize, seed: u64) -> Vec<Example> {
    const TOPICS: [(&str, [&str; 4]); 3] = [
        ("sports", ["goal", "match", "team", "coach"]),
        ("food", ["pasta", "soup", "chef", "recipe"]),
        ("politics", ["vote", "senate", "party", "election"]),
    ];
    let mut rng = Lcg(seed);
    (0..n)
        .map(|i| {
            let (label, cues) = TOPICS[i % 3];
            let fillers = 1 + rng.below(5);
            ex(label, &cue_text(&mut rng, fillers, &cues))
        })
        .collect()
}

#[test]
fn three_labels_train_and_predict() {
    let train_set = topic_examples(90, 6);
    let dev = topic_examples(30, 60);
    let mut config = tiny_config(Cell::Lstm, false, 1);
    config.epochs = Some(6);
    config.dropout = 0.0;
    config.lr = 0.02;
    let (classifier, report) = trained(&train_set, Some(&dev), &config);
    // Labels are sorted, and every prediction lists them in that (the config's) order.
    assert_eq!(classifier.labels(), ["food", "politics", "sports"]);
    assert_eq!(classifier.config().labels, classifier.labels());
    let texts = [
        "the chef made soup",
        "the team scored a goal",
        "the senate vote",
        "",
        "zzz",
    ];
    let predictions = classifier.predict_batch(&texts).unwrap();
    for (p, text) in predictions.iter().zip(&texts) {
        let names: Vec<&str> = p.probs.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(names, classifier.labels(), "{text:?}");
        let sum: f32 = p.probs.iter().map(|(_, v)| v).sum();
        assert!(
            (sum - 1.0).abs() < 1e-5,
            "{text:?}: probabilities sum to {sum}"
        );
        assert!(p.probs.iter().all(|(_, v)| (0.0..=1.0).contains(v)));
        let best = p.probs.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        assert_eq!((&p.label, p.score), (&best.0, best.1), "{text:?}");
    }
    assert_eq!(predictions[0].label, "food");
    assert_eq!(predictions[1].label, "sports");
    assert_eq!(predictions[2].label, "politics");

    let eval = classifier.evaluate(&dev).unwrap();
    assert_eq!(eval.n, dev.len());
    assert_eq!(eval.labels, classifier.labels());
    assert_eq!(eval.confusion.len(), 3);
    assert_eq!(eval.confusion.iter().flatten().sum::<usize>(), dev.len());
    assert!(eval.accuracy >= 0.9, "dev accuracy {}", eval.accuracy);
    assert_eq!(eval.accuracy, report.dev_accuracy);

    // A label the model does not know is an error naming it, not a panic.
    let unknown = [Example {
        text: "goal".into(),
        label: "weather".into(),
    }];
    let msg = error_text(classifier.evaluate(&unknown));
    assert_mentions("an unknown label", &msg, &["weather"]);
}

#[test]
fn integer_labels_are_ordered_numerically() {
    let data: Vec<Example> = topic_examples(18, 8)
        .into_iter()
        .map(|e| Example {
            label: match e.label.as_str() {
                "sports" => "10",
                "food" => "2",
                _ => "1",
            }
            .to_string(),
            ..e
        })
        .collect();
    let (classifier, _) = trained(&data, Some(&data[..6]), &tiny_config(Cell::Rnn, false, 1));
    assert_eq!(classifier.labels(), ["1", "2", "10"]);
    let p = classifier.predict("goal").unwrap();
    let names: Vec<&str> = p.probs.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(names, ["1", "2", "10"]);
}

// ---------------------------------------------------------------------------------------------
// 6. Learning happens
// ---------------------------------------------------------------------------------------------

#[test]
fn learns_a_separable_task() {
    let train_set = sentiment_examples(200, 17);
    let dev = sentiment_examples(60, 99);
    let mut config = tiny_config(Cell::Lstm, false, 1);
    config.epochs = Some(4);
    config.batch_size = 16;
    config.dropout = 0.0;
    config.lr = 0.02;
    // Plain training: moved by half a vector, a lone cue word of 8 numbers is not itself.
    config.adversarial = Some(0.0);
    let (classifier, report) = trained(&train_set, Some(&dev), &config);
    assert!(
        report.dev_accuracy >= 0.9,
        "dev accuracy {} after {:?}",
        report.dev_accuracy,
        report.epochs
    );
    // The returned weights are those of the reported best epoch.
    let eval = classifier.evaluate(&dev).unwrap();
    assert_eq!(eval.accuracy, report.dev_accuracy);
    assert!(report
        .epochs
        .iter()
        .any(|e| e.epoch == report.best_epoch && e.best));
    assert_eq!(report.train_examples, 200);
    assert_eq!(report.dev_examples, 60);
    assert!(!report.interrupted);

    // New combinations, lengths and casing not seen in training.
    let held_out = [
        ("superb", "positive"),
        ("awful", "negative"),
        ("The ending was superb.", "positive"),
        ("the cast was terrible", "negative"),
        ("a very very good film and a great story", "positive"),
        ("music quite dull and plot poor", "negative"),
        ("Lovely!", "positive"),
        ("really BAD", "negative"),
    ];
    let texts: Vec<&str> = held_out.iter().map(|(t, _)| *t).collect();
    let predictions = classifier.predict_batch(&texts).unwrap();
    for ((text, gold), p) in held_out.iter().zip(&predictions) {
        assert_eq!(p.label, *gold, "{text:?}: {:?}", p.probs);
    }
}

/// With a learning rate high enough for dev accuracy to swing, the classifier returned is the
/// one of the first epoch with the highest dev accuracy, not the last epoch's, and the events
/// the callback saw match the report.
#[test]
fn training_keeps_the_best_epoch_and_reports_every_epoch() {
    let mut saw_a_worse_last_epoch = false;
    for seed in 1..=3 {
        let train_set = sentiment_examples(40, seed);
        let dev = sentiment_examples(20, 100 + seed);
        let config = TrainConfig {
            cell: Cell::Rnn,
            epochs: Some(6),
            batch_size: 4,
            lr: 0.5,
            dropout: 0.3,
            clip_norm: 0.0,
            seed,
            ..tiny_config(Cell::Rnn, false, 1)
        };
        let mut events = Vec::new();
        let (classifier, report) = train(&train_set, Some(&dev), &config, &mut |e| {
            events.push(e.clone());
            ControlFlow::Continue(())
        })
        .unwrap();
        let what = format!("seed {seed}: {:?}", report.epochs);
        assert!(
            matches!(
                events.first(),
                Some(TrainEvent::Started {
                    train_examples: 40,
                    dev_examples: 20,
                    ..
                })
            ),
            "{what}"
        );
        let epochs: Vec<&EpochRecord> = events
            .iter()
            .filter_map(|e| match e {
                TrainEvent::Epoch(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(epochs.len(), 6, "{what}");
        assert_eq!(
            epochs.into_iter().cloned().collect::<Vec<_>>(),
            report.epochs
        );
        let steps = events
            .iter()
            .filter(|e| matches!(e, TrainEvent::Step { .. }))
            .count();
        assert_eq!(steps, 6 * 10, "{what}");

        let accuracies: Vec<f64> = report.epochs.iter().map(|e| e.dev_accuracy).collect();
        let max = accuracies.iter().copied().fold(f64::MIN, f64::max);
        let first_max = accuracies.iter().position(|&a| a == max).unwrap() + 1;
        assert_eq!(report.best_epoch, first_max, "{what}");
        assert_eq!(report.dev_accuracy, max, "{what}");
        let mut so_far = f64::MIN;
        for e in &report.epochs {
            assert_eq!(e.best, e.dev_accuracy > so_far, "{what}: epoch {}", e.epoch);
            so_far = so_far.max(e.dev_accuracy);
        }
        // The weights handed back are the best epoch's.
        assert_eq!(classifier.evaluate(&dev).unwrap().accuracy, max, "{what}");
        saw_a_worse_last_epoch |= accuracies[5] < max;
    }
    assert!(
        saw_a_worse_last_epoch,
        "no run ended below its best epoch, so the check above proved nothing"
    );
}

#[test]
fn training_stops_early_and_when_the_callback_asks() {
    let train_set = sentiment_examples(40, 1);
    let dev = sentiment_examples(20, 101);
    let config = TrainConfig {
        epochs: Some(6),
        batch_size: 4,
        lr: 0.5,
        dropout: 0.3,
        clip_norm: 0.0,
        seed: 1,
        patience: 1,
        ..tiny_config(Cell::Rnn, false, 1)
    };
    // patience 1: stops after the first epoch that does not improve.
    let (_, report) = trained(&train_set, Some(&dev), &config);
    let n = report.epochs.len();
    assert!(n < 6, "expected an early stop: {:?}", report.epochs);
    assert!(
        report.epochs[..n - 1].iter().all(|e| e.best),
        "{:?}",
        report.epochs
    );
    assert!(!report.epochs[n - 1].best, "{:?}", report.epochs);
    assert!(!report.interrupted);

    // The callback stops the run at the third step of epoch 2: one epoch is reported and
    // the classifier from it works.
    let mut seen = 0;
    let (classifier, report) = train(&train_set, Some(&dev), &config, &mut |e| match e {
        TrainEvent::Step { epoch: 2, step, .. } if *step >= 3 => {
            seen += 1;
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .unwrap();
    assert_eq!(seen, 1, "no event after the callback asked to stop");
    assert!(report.interrupted);
    assert_eq!(report.epochs.len(), 1);
    assert_eq!(report.best_epoch, 1);
    assert_eq!(
        classifier.evaluate(&dev).unwrap().accuracy,
        report.epochs[0].dev_accuracy
    );

    // Stopping before any epoch ends still returns a usable classifier.
    let (classifier, report) = train(&train_set, Some(&dev), &config, &mut |e| {
        if matches!(e, TrainEvent::Step { .. }) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert!(report.interrupted);
    assert!(report.epochs.is_empty());
    let p = classifier.predict("good").unwrap();
    assert_eq!(p.probs.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 7. Sharing across threads
// ---------------------------------------------------------------------------------------------

#[test]
fn shared_classifier_gives_the_same_results_on_every_thread() {
    let classifier = Arc::new(hand_classifier(Cell::Lstm, true, 2, 13));
    let texts: Vec<String> = (0..20)
        .map(|i| match i % 4 {
            0 => String::new(),
            1 => long_text(3 + i, i as u64),
            2 => format!("zzz {}", long_text(i, 100 + i as u64)),
            _ => long_text(30, i as u64),
        })
        .collect();
    let expected: Vec<_> = texts
        .iter()
        .map(|t| classifier.predict(t).unwrap())
        .collect();
    let expected_logits = classifier.logits(&texts).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let classifier = Arc::clone(&classifier);
            let texts = texts.clone();
            std::thread::spawn(move || {
                let single: Vec<_> = texts
                    .iter()
                    .map(|t| classifier.predict(t).unwrap())
                    .collect();
                let logits = classifier.logits(&texts).unwrap();
                (single, logits)
            })
        })
        .collect();
    for handle in handles {
        let (single, logits) = handle.join().expect("no thread panics");
        assert_eq!(single, expected);
        assert_eq!(logits, expected_logits);
    }
}

// ---------------------------------------------------------------------------------------------
// Data files feed training
// ---------------------------------------------------------------------------------------------

#[test]
fn parsed_examples_train_a_classifier() {
    let tsv = tsv(&sentiment_examples(24, 5));
    let examples = lstm_sentiment::data::parse_examples(
        tsv.as_bytes(),
        Path::new("train.tsv"),
        &lstm_sentiment::Format::Tsv,
    )
    .unwrap();
    assert_eq!(examples, sentiment_examples(24, 5));
    let (classifier, report) = trained(&examples, None, &tiny_config(Cell::Gru, false, 1));
    assert_eq!(report.train_examples + report.dev_examples, 24);
    assert!(report.dev_examples >= 1);
    assert_eq!(classifier.labels(), ["negative", "positive"]);
}

/// Prediction keeps each word's first-layer input row once worked out
/// (`Classifier::with_word_cache`): results are the same bit for bit with no rows kept, with
/// room for a few words and with the default room, on the first call and on later ones, and
/// with threads filling one table at once.
#[test]
fn kept_word_rows_change_no_result() {
    let texts: Vec<String> = (0..40).map(|i| long_text(1 + i % 17, i as u64)).collect();
    for (cell, bidirectional, layers) in [
        (Cell::Lstm, false, 1),
        (Cell::Gru, true, 2),
        (Cell::Rnn, true, 1),
    ] {
        let base = hand_classifier(cell, bidirectional, layers, 3);
        let want = base
            .clone()
            .with_word_cache(0)
            .unwrap()
            .logits(&texts)
            .unwrap();
        let directions = if bidirectional { 2 } else { 1 };
        let row_bytes = directions * cell.gates() * base.config().hidden_size * 4;
        for budget in [4 * row_bytes, lstm_sentiment::DEFAULT_WORD_CACHE] {
            let what = format!("{cell} bidirectional={bidirectional}, {budget} bytes");
            let classifier = Arc::new(base.clone().with_word_cache(budget).unwrap());
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (classifier, texts) = (Arc::clone(&classifier), texts.clone());
                    std::thread::spawn(move || classifier.logits(&texts).unwrap())
                })
                .collect();
            for handle in handles {
                assert_eq!(handle.join().unwrap(), want, "{what}: first calls");
            }
            assert_eq!(
                classifier.logits(&texts).unwrap(),
                want,
                "{what}: later call"
            );
        }
    }
}

/// `with_bf16` either runs (on CPUs with AVX512-BF16) with probabilities close to float32's and
/// the same labels, or says why it cannot; turning it off again gives float32 exactly.
#[test]
fn bf16_predictions_stay_close_to_float32_or_are_refused() {
    let f32_model = Classifier::builtin().unwrap();
    let texts = [
        "A wonderful, moving film. I loved every minute of it.",
        "The food was cold and the staff were rude.",
        "菜很好吃，送餐也快",
        &long_text(300, 5),
    ];
    let want = f32_model.logits(&texts).unwrap();
    match f32_model.clone().with_bf16(true) {
        Ok(bf16) => {
            assert!(lstm_sentiment::encoder::bf16_available());
            let probs = |c: &Classifier| c.predict_batch(&texts).unwrap();
            for (a, b) in probs(&f32_model).iter().zip(probs(&bf16)) {
                assert_eq!(a.label, b.label);
                assert!((a.score - b.score).abs() < 1e-2, "{a:?} {b:?}");
            }
            let got = bf16.logits(&texts).unwrap();
            assert!(got != want, "bf16 gave exactly the float32 logits");
            let back = bf16.with_bf16(false).unwrap();
            assert_eq!(back.logits(&texts).unwrap(), want);
        }
        Err(e) => {
            assert!(!bf16_or_skip(
                "bfloat16 predictions, the refusal checked instead"
            ));
            assert_mentions("the refusal", &e.to_string(), &["AVX512-BF16"]);
        }
    }
}
