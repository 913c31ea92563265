//! Training: data -> vocabulary -> batches -> AdamW with clipping -> the best epoch on dev.
//!
//! Progress goes to a caller's callback as [`TrainEvent`]s; nothing here prints.

use crate::classifier::{argmax, Classifier};
use crate::config::{Cell, ModelConfig, FORMAT_VERSION};
use crate::data::{label_set, Example};
use crate::dropout::Dropout;
use crate::embedding::Embedding;
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::model::{init_weights, snapshot, Batch, Model, Weights};
use crate::model_dir::ModelFiles;
use crate::optim::{clip_factor, compact_ids, global_norm, SparseRows};
use crate::tokenizer::{TextTokenizer, TokenizerConfig};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use std::time::Instant;

/// Every hyperparameter of a run. The defaults suit sentence-level sentiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    pub cell: Cell,
    pub embedding_dim: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub bidirectional: bool,
    /// Dropout on word vectors, between layers and before the head.
    pub dropout: f32,
    /// Upper bound on epochs; early stopping may end sooner.
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Gradients are rescaled when their global L2 norm exceeds this (0 turns clipping off).
    pub clip_norm: f64,
    /// Texts are truncated to this many tokens, in training and later in prediction.
    pub max_length: usize,
    /// Stop after this many epochs without a better dev accuracy (0: never stop early).
    pub patience: usize,
    /// Without a dev set, this fraction of the training data is held out for it.
    pub dev_fraction: f64,
    pub seed: u64,
    pub tokenizer: TokenizerConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            cell: Cell::Lstm,
            embedding_dim: 128,
            hidden_size: 128,
            num_layers: 1,
            bidirectional: false,
            dropout: 0.3,
            epochs: 10,
            batch_size: 64,
            lr: 2e-3,
            weight_decay: 0.0,
            clip_norm: 5.0,
            max_length: 512,
            patience: 3,
            dev_fraction: 0.1,
            seed: 42,
            tokenizer: TokenizerConfig::default(),
        }
    }
}

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub dev_loss: f64,
    pub dev_accuracy: f64,
    pub dev_macro_f1: f64,
    pub seconds: f64,
    pub tokens_per_second: f64,
    /// Whether this epoch's weights are the best so far (and so kept).
    pub best: bool,
}

/// Progress reports, in order: one `Started`, then `Step`s and an `Epoch` per epoch.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    Started {
        train_examples: usize,
        dev_examples: usize,
        vocab_size: usize,
        labels: Vec<String>,
        steps_per_epoch: usize,
        parameters: usize,
    },
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        /// Running means over the epoch so far.
        loss: f64,
        accuracy: f64,
        tokens_per_second: f64,
    },
    Epoch(EpochRecord),
}

/// The outcome of a run, also recorded in the model's config.json under `training`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    pub config: TrainConfig,
    pub train_examples: usize,
    pub dev_examples: usize,
    pub epochs: Vec<EpochRecord>,
    pub best_epoch: usize,
    pub dev_accuracy: f64,
    pub dev_macro_f1: f64,
    pub seconds: f64,
    /// True when the callback asked to stop before the last epoch.
    pub interrupted: bool,
}

/// Trains a classifier. Without `dev`, `config.dev_fraction` of `train` is held out. The
/// callback sees every event and may return `ControlFlow::Break` to stop after the current
/// step; the best epoch so far is then returned.
pub fn train(
    train: &[Example],
    dev: Option<&[Example]>,
    config: &TrainConfig,
    on_event: &mut dyn FnMut(&TrainEvent) -> ControlFlow<()>,
) -> Result<(Classifier, TrainReport)> {
    check(config)?;
    let start = Instant::now();
    let device = Device::Cpu;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let (train, dev) = split(train, dev, config.dev_fraction, &mut rng)?;
    let labels = label_set(&train);
    if labels.len() < 2 {
        return Err(Error::Config(format!(
            "the training data has only one label ({labels:?}); a classifier needs at least two"
        )));
    }
    let label_of = |e: &Example| -> Result<u32> {
        labels
            .iter()
            .position(|l| *l == e.label)
            .map(|i| i as u32)
            .ok_or_else(|| {
                Error::Config(format!(
                    "dev label `{}` never occurs in the training data (labels: {labels:?})",
                    e.label
                ))
            })
    };
    let tokenizer = TextTokenizer::build(train.iter().map(|e| e.text.as_str()), &config.tokenizer)?;
    let encode = |set: &[Example]| -> Result<(Vec<Vec<u32>>, Vec<u32>)> {
        let texts: Vec<&str> = set.iter().map(|e| e.text.as_str()).collect();
        let ids = tokenizer.encode_batch(&texts, config.max_length)?;
        let y = set.iter().map(label_of).collect::<Result<Vec<_>>>()?;
        Ok((ids, y))
    };
    let (train_ids, train_y) = encode(&train)?;
    let (dev_ids, dev_y) = encode(&dev)?;

    let model_config = ModelConfig {
        format_version: FORMAT_VERSION,
        cell: config.cell,
        vocab_size: tokenizer.vocab_size(),
        embedding_dim: config.embedding_dim,
        hidden_size: config.hidden_size,
        num_layers: config.num_layers,
        bidirectional: config.bidirectional,
        labels: labels.clone(),
        label_aliases: Default::default(),
        max_length: config.max_length,
        tokenizer: config.tokenizer.clone(),
        dtype: Some(crate::config::WeightDtype::Float32),
        training: None,
    };
    model_config.validate()?;
    let mut init = init_weights(&model_config, &mut rng, &device)?;
    let adamw = ParamsAdamW {
        lr: config.lr,
        weight_decay: config.weight_decay,
        ..Default::default()
    };
    let table = init
        .remove(EMBEDDING)
        .expect("init_weights makes the embedding")
        .flatten_all()?
        .to_vec1::<f32>()?;
    let mut embedding = SparseRows::new(table, config.embedding_dim, adamw.clone());
    // Vars in name order: the optimizer then visits them in the same order every run.
    let vars: Vec<(String, Var)> = init
        .into_iter()
        .map(|(k, t)| Ok((k, Var::from_tensor(&t)?)))
        .collect::<Result<_>>()?;
    let live: Weights = vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    // Training enters the model after the lookup, so its embedding is a placeholder.
    let model = Model::from_weights(
        &model_config,
        &with_embedding(&live, Tensor::zeros((1, 1), DType::F32, &device)?),
    )?;
    let mut optimizer = AdamW::new(vars.iter().map(|(_, v)| v.clone()).collect(), adamw)?;
    // The current weights without the autograd graph, for dev evaluation and snapshots.
    let current = |embedding: &SparseRows| -> Result<Weights> {
        let detached = live.iter().map(|(k, t)| (k.clone(), t.detach())).collect();
        Ok(with_embedding(&detached, embedding.to_tensor(&device)?))
    };

    let steps_per_epoch = train_ids.len().div_ceil(config.batch_size);
    let _ = on_event(&TrainEvent::Started {
        train_examples: train.len(),
        dev_examples: dev.len(),
        vocab_size: tokenizer.vocab_size(),
        labels: labels.clone(),
        steps_per_epoch,
        parameters: model_config.parameter_count(),
    });

    let mut records: Vec<EpochRecord> = Vec::new();
    let mut best: Option<(usize, Weights, Evaluation)> = None;
    let mut since_best = 0;
    let mut interrupted = false;
    'epochs: for epoch in 1..=config.epochs {
        let epoch_start = Instant::now();
        let batches = length_buckets(&train_ids, config.batch_size, &mut rng);
        let (mut loss_sum, mut correct, mut seen, mut tokens) = (0.0, 0usize, 0usize, 0usize);
        for (step, idx) in batches.iter().enumerate() {
            let seqs: Vec<Vec<u32>> = idx.iter().map(|&i| train_ids[i].clone()).collect();
            let y: Vec<u32> = idx.iter().map(|&i| train_y[i]).collect();
            let (rows, local) = compact_ids(&seqs);
            let batch = Batch::new(&local, &device)?;
            let targets = Tensor::new(y.as_slice(), &device)?;
            let batch_rows = Var::from_tensor(&embedding.gather(&rows, &device)?)?;
            let xs = Embedding::new(batch_rows.as_tensor().clone()).forward(&batch.ids)?;
            let mut dropout = Dropout::new(config.dropout, &mut rng);
            let out = model.forward_embedded(xs, &batch.steps, Some(&mut dropout))?;
            let loss = candle_nn::loss::cross_entropy(&out.logits, &targets)?;
            let mut grads = loss.backward()?;
            let row_grad = grads
                .remove(batch_rows.as_tensor())
                .ok_or_else(|| Error::Config("the embedding received no gradient".into()))?;
            let norm = global_norm(
                vars.iter()
                    .filter_map(|(_, v)| grads.get(v.as_tensor()))
                    .chain(std::iter::once(&row_grad)),
            )?;
            let factor = clip_factor(norm, config.clip_norm);
            if factor < 1.0 {
                for (_, var) in &vars {
                    if let Some(g) = grads.remove(var.as_tensor()) {
                        grads.insert(var.as_tensor(), g.affine(factor, 0.0)?);
                    }
                }
            }
            optimizer.step(&grads)?;
            embedding.update(&rows, &row_grad.affine(factor, 0.0)?)?;

            let loss_value = f64::from(loss.to_scalar::<f32>()?);
            loss_sum += loss_value * idx.len() as f64;
            for (row, &gold) in out.logits.to_vec2::<f32>()?.iter().zip(&y) {
                correct += usize::from(argmax(row) == gold as usize);
            }
            seen += idx.len();
            tokens += batch.token_count();
            let flow = on_event(&TrainEvent::Step {
                epoch,
                step: step + 1,
                steps: batches.len(),
                loss: loss_sum / seen as f64,
                accuracy: correct as f64 / seen as f64,
                tokens_per_second: tokens as f64 / epoch_start.elapsed().as_secs_f64(),
            });
            if flow.is_break() {
                interrupted = true;
                if best.is_none() {
                    // Nothing evaluated yet: keep what we have rather than nothing.
                    let weights = snapshot(&current(&embedding)?)?;
                    let eval_model = Model::from_weights(&model_config, &weights)?;
                    let (_, eval) = evaluate(&eval_model, &dev_ids, &dev_y, &labels, &device)?;
                    best = Some((epoch, weights, eval));
                }
                break 'epochs;
            }
        }
        let train_seconds = epoch_start.elapsed().as_secs_f64();
        let weights = current(&embedding)?;
        let eval_model = Model::from_weights(&model_config, &weights)?;
        let (dev_loss, eval) = evaluate(&eval_model, &dev_ids, &dev_y, &labels, &device)?;
        let improved = best
            .as_ref()
            .is_none_or(|(_, _, b)| eval.accuracy > b.accuracy);
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            dev_loss,
            dev_accuracy: eval.accuracy,
            dev_macro_f1: eval.macro_f1,
            seconds: epoch_start.elapsed().as_secs_f64(),
            tokens_per_second: tokens as f64 / train_seconds,
            best: improved,
        };
        records.push(record.clone());
        let flow = on_event(&TrainEvent::Epoch(record));
        if improved {
            best = Some((epoch, snapshot(&weights)?, eval));
            since_best = 0;
        } else {
            since_best += 1;
        }
        if flow.is_break() {
            interrupted = epoch < config.epochs;
            break;
        }
        if config.patience > 0 && since_best >= config.patience {
            break;
        }
    }

    let (best_epoch, weights, eval) =
        best.ok_or_else(|| Error::Config("no epoch was run".into()))?;
    let report = TrainReport {
        config: config.clone(),
        train_examples: train.len(),
        dev_examples: dev.len(),
        epochs: records,
        best_epoch,
        dev_accuracy: eval.accuracy,
        dev_macro_f1: eval.macro_f1,
        seconds: start.elapsed().as_secs_f64(),
        interrupted,
    };
    let mut model_config = model_config;
    model_config.training = Some(
        serde_json::to_value(&report)
            .map_err(|e| Error::Config(format!("cannot record the training report: {e}")))?,
    );
    let classifier = Classifier::from_files(
        ModelFiles {
            config: model_config,
            tokenizer,
            weights,
        },
        device,
    )?;
    Ok((classifier, report))
}

fn check(c: &TrainConfig) -> Result<()> {
    let fail = |m: &str| Err(Error::Config(m.to_string()));
    if c.epochs == 0 {
        return fail("epochs must be at least 1");
    }
    if c.batch_size == 0 {
        return fail("batch size must be at least 1");
    }
    if !(0.0..1.0).contains(&c.dropout) {
        return fail("dropout must be in [0, 1)");
    }
    if !(c.lr > 0.0 && c.lr.is_finite()) {
        return fail("learning rate must be positive");
    }
    if !(0.0..1.0).contains(&c.dev_fraction) {
        return fail("dev fraction must be in [0, 1)");
    }
    Ok(())
}

/// The dev set: the given one, or a seeded random slice held out of train.
fn split(
    train: &[Example],
    dev: Option<&[Example]>,
    fraction: f64,
    rng: &mut StdRng,
) -> Result<(Vec<Example>, Vec<Example>)> {
    if train.is_empty() {
        return Err(Error::Config("no training examples".into()));
    }
    if let Some(dev) = dev {
        if dev.is_empty() {
            return Err(Error::Config("the dev set is empty".into()));
        }
        return Ok((train.to_vec(), dev.to_vec()));
    }
    if train.len() < 2 {
        return Err(Error::Config(
            "need at least two examples to hold one out for dev (or give a dev file)".into(),
        ));
    }
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(rng);
    let n_dev = ((train.len() as f64 * fraction).round() as usize).clamp(1, train.len() - 1);
    let dev = order[..n_dev].iter().map(|&i| train[i].clone()).collect();
    let rest = order[n_dev..].iter().map(|&i| train[i].clone()).collect();
    Ok((rest, dev))
}

/// Shuffled batches of similar lengths: shuffle, sort pools of 32 batches by length, cut, shuffle
/// the batches. Little padding, yet every epoch sees a new order.
fn length_buckets(ids: &[Vec<u32>], batch_size: usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.shuffle(rng);
    let mut batches = Vec::new();
    for pool in order.chunks(batch_size * 32) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| ids[i].len());
        batches.extend(pool.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

/// Dev loss and figures, without dropout or gradients.
fn evaluate(
    model: &Model,
    ids: &[Vec<u32>],
    y: &[u32],
    labels: &[String],
    device: &Device,
) -> Result<(f64, Evaluation)> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i].len());
    let mut predicted = vec![0usize; ids.len()];
    let mut loss_sum = 0.0;
    for chunk in order.chunks(256) {
        let seqs: Vec<Vec<u32>> = chunk.iter().map(|&i| ids[i].clone()).collect();
        let targets: Vec<u32> = chunk.iter().map(|&i| y[i]).collect();
        let batch = Batch::new(&seqs, device)?;
        let logits = model.forward(&batch, None)?.logits;
        let loss =
            candle_nn::loss::cross_entropy(&logits, &Tensor::new(targets.as_slice(), device)?)?;
        loss_sum += f64::from(loss.to_scalar::<f32>()?) * chunk.len() as f64;
        for (&i, row) in chunk.iter().zip(logits.to_vec2::<f32>()?) {
            predicted[i] = argmax(&row);
        }
    }
    let gold: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let eval = Evaluation::from_predictions(labels, &gold, &predicted)?;
    Ok((loss_sum / ids.len().max(1) as f64, eval))
}

const EMBEDDING: &str = "embedding.weight";

fn with_embedding(weights: &Weights, table: Tensor) -> Weights {
    let mut all = weights.clone();
    all.insert(EMBEDDING.to_string(), table);
    all
}
