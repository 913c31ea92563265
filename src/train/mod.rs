//! Training: data -> vocabulary -> batches -> AdamW with clipping -> the best epoch on dev.
//!
//! Progress goes to a caller's callback as [`TrainEvent`]s; nothing here prints.

mod batching;
mod checkpoint;
mod state;

pub use checkpoint::{checkpoint_path, CHECKPOINT_FILE};

use crate::classifier::{argmax, Classifier};
use crate::config::{Cell, ModelConfig, FORMAT_VERSION};
use crate::data::{label_set, Example};
use crate::device::DeviceSpec;
use crate::dropout::Dropout;
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::model::{init_weights, snapshot, Model, Weights};
use crate::model_dir::ModelFiles;
use crate::tokenizer::{TextTokenizer, TokenizerConfig};
use crate::vectors::{embedding_init, Coverage, Embeddings, Utf8};
use crate::word2vec::{Architecture, Word2VecConfig};
use batching::{epoch_rng, fingerprint, length_buckets, split};
use candle_core::{DType, Device, Tensor};
use candle_nn::ParamsAdamW;
use checkpoint::{Checkpoint, Progress};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use state::{with_embedding, Best, TrainState, EMBEDDING};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
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
    /// Where the word vectors start: random, a vector file, or word2vec trained first.
    pub embeddings: EmbeddingInit,
    /// Keep the word vectors as they start (useful with pretrained vectors).
    pub freeze_embeddings: bool,
    /// Where training runs: the CPU, or a CUDA GPU in builds with the `cuda` feature. Not part
    /// of the saved config: a model or checkpoint made on one device loads on any.
    #[serde(skip)]
    pub device: DeviceSpec,
}

/// How the embedding table starts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingInit {
    /// Small random vectors.
    #[default]
    Random,
    /// Rows from a word2vec (binary or text) or GloVe file; words it lacks start random.
    Vectors { path: PathBuf },
    /// Skip-gram word2vec trained first on the training texts plus, optionally, a file of
    /// unlabelled text (one text per line).
    Word2Vec { unlabeled: Option<PathBuf> },
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
            embeddings: EmbeddingInit::Random,
            freeze_embeddings: false,
            device: DeviceSpec::Cpu,
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
        /// The first epoch this run will train (above 1 when resuming).
        first_epoch: usize,
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
    /// The embedding table was started from word vectors covering `matched` of `words`
    /// vocabulary words.
    Embeddings {
        matched: usize,
        words: usize,
    },
    /// A checkpoint was written after this epoch.
    Checkpoint {
        epoch: usize,
        path: PathBuf,
    },
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

/// Where a run keeps its checkpoints and whether it continues from one.
#[derive(Debug, Clone, Default)]
pub struct Checkpointing {
    /// Write a checkpoint here at the end of every epoch.
    pub dir: Option<PathBuf>,
    /// Continue from the checkpoint in `dir` (its hyperparameters and vocabulary win over the
    /// given config; the data must be the same).
    pub resume: bool,
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
    train_with(train, dev, config, &Checkpointing::default(), on_event)
}

/// [`train`] with checkpoints: written atomically after each epoch, and optionally resumed. A
/// resumed run ends with the same weights as an uninterrupted one with the same seed.
pub fn train_with(
    train: &[Example],
    dev: Option<&[Example]>,
    config: &TrainConfig,
    checkpointing: &Checkpointing,
    on_event: &mut dyn FnMut(&TrainEvent) -> ControlFlow<()>,
) -> Result<(Classifier, TrainReport)> {
    let start = Instant::now();
    let device = config.device.open()?;
    let resumed = match (&checkpointing.dir, checkpointing.resume) {
        (Some(dir), true) => Some(Checkpoint::load(dir, &device)?),
        (None, true) => {
            return Err(Error::Config(
                "resuming needs a checkpoint directory".into(),
            ));
        }
        _ => None,
    };
    let config = match &resumed {
        Some(c) => TrainConfig {
            device: config.device,
            ..c.progress.config.clone()
        },
        None => config.clone(),
    };
    let config = &config;
    check(config)?;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let (train, dev) = split(train, dev, config.dev_fraction, &mut rng)?;
    let data_fingerprint = fingerprint(&[&train, &dev]);
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
    let tokenizer = match &resumed {
        Some(c) => {
            let origin = checkpoint_path(checkpointing.dir.as_deref().unwrap_or(Path::new(".")));
            if c.progress.fingerprint != data_fingerprint {
                return Err(Error::model(
                    origin,
                    "the checkpoint was made on other training/dev data; resume with the same files",
                ));
            }
            TextTokenizer::from_json(&c.progress.tokenizer_json, &origin)?
        }
        None => TextTokenizer::build(train.iter().map(|e| e.text.as_str()), &config.tokenizer)?,
    };
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
    if resumed.is_none() {
        if let Some(coverage) = initial_vectors(config, &tokenizer, &train, &mut init)? {
            let _ = on_event(&TrainEvent::Embeddings {
                matched: coverage.matched,
                words: coverage.words,
            });
        }
    }
    let mut state = TrainState::new(
        &model_config,
        init,
        config.freeze_embeddings,
        ParamsAdamW {
            lr: config.lr,
            weight_decay: config.weight_decay,
            ..Default::default()
        },
    )?;
    // Training enters the model after the lookup, so its embedding is a placeholder.
    let placeholder = Tensor::zeros((1, 1), DType::F32, &device)?;
    let model = Model::from_weights(&model_config, &with_embedding(&state.live, placeholder))?;

    let mut records: Vec<EpochRecord> = Vec::new();
    let mut best: Option<Best> = None;
    let mut since_best = 0;
    let mut first_epoch = 1;
    let mut earlier_seconds = 0.0;
    if let Some(c) = &resumed {
        let origin = checkpoint_path(checkpointing.dir.as_deref().unwrap_or(Path::new(".")));
        state.restore(c, &origin)?;
        let p = &c.progress;
        records = p.records.clone();
        since_best = p.since_best;
        first_epoch = p.epoch + 1;
        earlier_seconds = p.seconds;
        if p.best_epoch > 0 {
            let mut weights = Weights::new();
            for (name, shape) in model_config.expected_tensors() {
                let v = c.values("best", &name, &origin)?;
                weights.insert(name, Tensor::from_vec(v, shape, &device)?);
            }
            best = Some(Best {
                epoch: p.best_epoch,
                weights,
                accuracy: p.best_accuracy,
                macro_f1: p.best_macro_f1,
            });
        }
    }

    let steps_per_epoch = train_ids.len().div_ceil(config.batch_size);
    let _ = on_event(&TrainEvent::Started {
        first_epoch,
        train_examples: train.len(),
        dev_examples: dev.len(),
        vocab_size: tokenizer.vocab_size(),
        labels: labels.clone(),
        steps_per_epoch,
        parameters: model_config.parameter_count(),
    });

    let mut interrupted = false;
    let stopped_early = config.patience > 0 && since_best >= config.patience;
    let last_epoch = if stopped_early { 0 } else { config.epochs };
    'epochs: for epoch in first_epoch..=last_epoch {
        let epoch_start = Instant::now();
        let mut rng = epoch_rng(config.seed, epoch);
        let batches = length_buckets(&train_ids, config.batch_size, &mut rng);
        let (mut loss_sum, mut correct, mut seen, mut tokens) = (0.0, 0usize, 0usize, 0usize);
        for (step, idx) in batches.iter().enumerate() {
            let seqs: Vec<Vec<u32>> = idx.iter().map(|&i| train_ids[i].clone()).collect();
            let y: Vec<u32> = idx.iter().map(|&i| train_y[i]).collect();
            let mut dropout = Dropout::new(config.dropout, &mut rng);
            let (loss, logits, n_tokens) =
                state.step(&model, &seqs, &y, &mut dropout, config.clip_norm, &device)?;
            loss_sum += loss * idx.len() as f64;
            for (row, &gold) in logits.iter().zip(&y) {
                correct += usize::from(argmax(row) == gold as usize);
            }
            seen += idx.len();
            tokens += n_tokens;
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
                    let weights = snapshot(&state.weights(&device)?)?;
                    let eval_model = Model::from_weights(&model_config, &weights)?;
                    let (_, eval) = evaluate(&eval_model, &dev_ids, &dev_y, &labels, &device)?;
                    best = Some(Best::new(epoch, weights, &eval));
                }
                break 'epochs;
            }
        }
        let train_seconds = epoch_start.elapsed().as_secs_f64();
        let weights = state.weights(&device)?;
        let eval_model = Model::from_weights(&model_config, &weights)?;
        let (dev_loss, eval) = evaluate(&eval_model, &dev_ids, &dev_y, &labels, &device)?;
        let improved = best.as_ref().is_none_or(|b| eval.accuracy > b.accuracy);
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
        if improved {
            best = Some(Best::new(epoch, snapshot(&weights)?, &eval));
            since_best = 0;
        } else {
            since_best += 1;
        }
        let flow = on_event(&TrainEvent::Epoch(record));
        if let Some(dir) = &checkpointing.dir {
            let progress = Progress {
                version: Checkpoint::version(),
                config: config.clone(),
                tokenizer_json: tokenizer.to_json()?,
                fingerprint: data_fingerprint,
                epoch,
                since_best,
                records: records.clone(),
                best_epoch: best.as_ref().map_or(0, |b| b.epoch),
                best_accuracy: best.as_ref().map_or(0.0, |b| b.accuracy),
                best_macro_f1: best.as_ref().map_or(0.0, |b| b.macro_f1),
                dense_step: 0,
                sparse_step: 0,
                seconds: earlier_seconds + start.elapsed().as_secs_f64(),
            };
            state
                .checkpoint(progress, best.as_ref(), &device)?
                .save(dir)?;
            let _ = on_event(&TrainEvent::Checkpoint {
                epoch,
                path: checkpoint_path(dir),
            });
        }
        if flow.is_break() {
            interrupted = epoch < config.epochs;
            break;
        }
        if config.patience > 0 && since_best >= config.patience {
            break;
        }
    }

    let best = best.ok_or_else(|| Error::Config("no epoch was run".into()))?;
    let report = TrainReport {
        config: config.clone(),
        train_examples: train.len(),
        dev_examples: dev.len(),
        epochs: records,
        best_epoch: best.epoch,
        dev_accuracy: best.accuracy,
        dev_macro_f1: best.macro_f1,
        seconds: earlier_seconds + start.elapsed().as_secs_f64(),
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
            weights: best.weights,
        },
        device,
    )?;
    Ok((classifier, report))
}

/// Starts the embedding rows from word vectors when the config asks for it.
fn initial_vectors(
    config: &TrainConfig,
    tokenizer: &TextTokenizer,
    train: &[Example],
    weights: &mut Weights,
) -> Result<Option<Coverage>> {
    let vectors = match &config.embeddings {
        EmbeddingInit::Random => return Ok(None),
        EmbeddingInit::Vectors { path } => Embeddings::from_file(path, Utf8::Lossy)?,
        EmbeddingInit::Word2Vec { unlabeled } => {
            let mut texts: Vec<String> = train.iter().map(|e| e.text.clone()).collect();
            if let Some(path) = unlabeled {
                texts.extend(crate::data::read_lines(path)?);
            }
            let w2v = Word2VecConfig {
                architecture: Architecture::SkipGram,
                dim: config.embedding_dim,
                min_count: config.tokenizer.min_count as u64,
                lowercase: config.tokenizer.lowercase,
                // One thread: the run stays reproducible from its seed.
                threads: 1,
                seed: config.seed,
                ..Word2VecConfig::default()
            };
            crate::word2vec::train(&texts, &w2v, |_| ControlFlow::Continue(()))?
        }
    };
    let table = weights
        .get(EMBEDDING)
        .ok_or_else(|| Error::Config("no embedding to start".into()))?;
    let shape = table.shape().clone();
    let device = table.device().clone();
    let mut values = table.flatten_all()?.to_vec1::<f32>()?;
    let coverage = embedding_init(tokenizer, &vectors, &mut values)?;
    weights.insert(
        EMBEDDING.to_string(),
        Tensor::from_vec(values, shape, &device)?,
    );
    Ok(Some(coverage))
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

/// Dev loss and figures, without dropout or gradients.
fn evaluate(
    model: &Model,
    ids: &[Vec<u32>],
    y: &[u32],
    labels: &[String],
    device: &Device,
) -> Result<(f64, Evaluation)> {
    let mut predicted = vec![0usize; ids.len()];
    let mut loss_sum = 0.0;
    model.forward_sorted(ids, 256, device, |texts, out| {
        let targets: Vec<u32> = texts.iter().map(|&i| y[i]).collect();
        let targets = Tensor::new(targets.as_slice(), device)?;
        let loss = candle_nn::loss::cross_entropy(&out.logits, &targets)?;
        loss_sum += f64::from(loss.to_scalar::<f32>()?) * texts.len() as f64;
        for (&i, row) in texts.iter().zip(out.logits.to_vec2::<f32>()?) {
            predicted[i] = argmax(&row);
        }
        Ok::<_, Error>(())
    })?;
    let gold: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let eval = Evaluation::from_predictions(labels, &gold, &predicted)?;
    Ok((loss_sum / ids.len().max(1) as f64, eval))
}
