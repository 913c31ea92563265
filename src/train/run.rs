//! One training run, in the order it happens: resume, split, tokenize, initialize, the epochs
//! (steps, dev evaluation, checkpoint), and the report.

use super::batching::{epoch_rng, length_buckets};
use super::checkpoint::{checkpoint_path, Checkpoint, Progress};
use super::encoded::Encoded;
use super::guard::{non_finite_weights, Divergence};
use super::preflight;
use super::split::split;
use super::state::{with_embedding, Best, Stepped, TrainState, EMBEDDING};
use super::{
    Checkpointing, EmbeddingInit, EpochRecord, TrainConfig, TrainEvent, TrainReport,
};
use crate::classifier::{argmax, Classifier};
use crate::config::{ModelConfig, WeightDtype, FORMAT_VERSION};
use crate::data::Example;
use crate::dropout::Dropout;
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::model::{init_weights, snapshot, Model, Weights};
use crate::model_dir::ModelFiles;
use crate::tokenizer::TextTokenizer;
use crate::vectors::{embedding_init, Embeddings, Utf8};
use crate::word2vec::{Architecture, Word2VecConfig};
use candle_core::{DType, Device, Tensor};
use candle_nn::ParamsAdamW;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

pub(super) type OnEvent<'e> = &'e mut dyn FnMut(&TrainEvent) -> ControlFlow<()>;

/// A run between its setup and its report.
pub(super) struct Run<'a> {
    config: TrainConfig,
    checkpoint_dir: Option<&'a Path>,
    device: Device,
    started: Instant,
    data: Encoded,
    model_config: ModelConfig,
    state: TrainState,
    /// The network the steps run through. Training enters it after the embedding lookup, so
    /// its own embedding is a placeholder.
    model: Model,
    history: History,
}

/// What the epochs so far leave behind, and how the run ended.
struct History {
    records: Vec<EpochRecord>,
    best: Option<Best>,
    since_best: usize,
    first_epoch: usize,
    /// Seconds spent before a resume.
    earlier_seconds: f64,
    interrupted: bool,
    diverged: Option<Divergence>,
}

impl<'a> Run<'a> {
    /// Everything before the first step: resume, check, split, tokenize, initialize.
    pub fn start(
        train: &[Example],
        dev: Option<&[Example]>,
        config: &TrainConfig,
        checkpointing: &'a Checkpointing,
        on_event: OnEvent,
    ) -> Result<Self> {
        let started = Instant::now();
        let device = config.device.open()?;
        let resumed = resume(checkpointing, &device)?;
        let config = match &resumed {
            Some(c) => TrainConfig {
                device: config.device,
                ..c.progress.config.clone()
            },
            None => config.clone(),
        };
        config.validate()?;
        preflight::check_files(&config, checkpointing)?;
        let origin = checkpointing.dir.as_deref().map(checkpoint_path);
        let mut rng = StdRng::seed_from_u64(config.seed);
        let (train, dev) = split(train, dev, config.dev_fraction, &mut rng)?;
        let resumed_from = resumed.as_ref().zip(origin.as_deref());
        let data = Encoded::new(&train, &dev, &config, resumed_from)?;
        let model_config = model_config(&config, &data)?;
        preflight::check_memory(&model_config, config.batch_size, data.longest())?;

        let mut init = init_weights(&model_config, &mut rng, &device)?;
        if resumed.is_none() {
            start_from_vectors(&config, &data.tokenizer, &train, &mut init, on_event)?;
        }
        let state = TrainState::new(&model_config, init, config.freeze_embeddings, adamw(&config))?;
        let placeholder = Tensor::zeros((1, 1), DType::F32, &device)?;
        let model = Model::from_weights(&model_config, &with_embedding(&state.live, placeholder))?;
        let mut run = Run {
            config,
            checkpoint_dir: checkpointing.dir.as_deref(),
            device,
            started,
            data,
            model_config,
            state,
            model,
            history: History::new(),
        };
        if let Some((checkpoint, origin)) = resumed_from {
            run.restore(checkpoint, origin)?;
        }
        Ok(run)
    }

    /// Continues where the checkpoint left off: weights, optimizer state, records, best epoch.
    fn restore(&mut self, c: &Checkpoint, origin: &Path) -> Result<()> {
        self.state.restore(c, origin)?;
        let p = &c.progress;
        let best = if p.best_epoch > 0 {
            let mut weights = Weights::new();
            for (name, shape) in self.model_config.expected_tensors() {
                let v = c.values("best", &name, origin)?;
                weights.insert(name, Tensor::from_vec(v, shape, &self.device)?);
            }
            Some(Best {
                epoch: p.best_epoch,
                weights,
                accuracy: p.best_accuracy,
                macro_f1: p.best_macro_f1,
            })
        } else {
            None
        };
        self.history = History {
            records: p.records.clone(),
            best,
            since_best: p.since_best,
            first_epoch: p.epoch + 1,
            earlier_seconds: p.seconds,
            ..History::new()
        };
        Ok(())
    }

    /// Runs epochs until the last one, early stopping, the caller or a non-finite value ends
    /// them.
    pub fn epochs(&mut self, on_event: OnEvent) -> Result<()> {
        self.announce(on_event);
        let mut epoch = self.history.first_epoch;
        while epoch <= self.config.epochs && !self.patience_ran_out() {
            if self.epoch(epoch, on_event)?.is_break() {
                break;
            }
            epoch += 1;
        }
        Ok(())
    }

    fn announce(&self, on_event: OnEvent) {
        let _ = on_event(&TrainEvent::Started {
            first_epoch: self.history.first_epoch,
            train_examples: self.data.train.len(),
            dev_examples: self.data.dev.len(),
            vocab_size: self.data.tokenizer.vocab_size(),
            labels: self.data.labels.clone(),
            steps_per_epoch: self.data.train.len().div_ceil(self.config.batch_size),
            parameters: self.model_config.parameter_count(),
        });
    }

    fn patience_ran_out(&self) -> bool {
        self.config.patience > 0 && self.history.since_best >= self.config.patience
    }

    /// One epoch: its steps, the dev evaluation, a checkpoint. `Break` ends the run.
    fn epoch(&mut self, epoch: usize, on_event: OnEvent) -> Result<ControlFlow<()>> {
        let clock = Instant::now();
        let Some(totals) = self.steps(epoch, clock, on_event)? else {
            return Ok(ControlFlow::Break(()));
        };
        let train_seconds = clock.elapsed().as_secs_f64();
        let weights = self.state.weights(&self.device)?;
        let Some((dev_loss, eval)) = self.score(&weights, epoch, totals.steps)? else {
            return Ok(ControlFlow::Break(()));
        };
        // Without a dev set every epoch counts as the best: the last one is kept.
        let improved = self.data.dev.len() == 0
            || self.history.best.as_ref().is_none_or(|b| eval.accuracy > b.accuracy);
        let record = EpochRecord {
            epoch,
            train_loss: totals.mean_loss(),
            train_accuracy: totals.accuracy(),
            dev_loss,
            dev_accuracy: eval.accuracy,
            dev_macro_f1: eval.macro_f1,
            seconds: clock.elapsed().as_secs_f64(),
            tokens_per_second: totals.tokens as f64 / train_seconds,
            best: improved,
        };
        self.history.records.push(record.clone());
        if improved {
            self.history.best = Some(Best::new(epoch, snapshot(&weights)?, &eval));
            self.history.since_best = 0;
        } else {
            self.history.since_best += 1;
        }
        let flow = on_event(&TrainEvent::Epoch(record));
        self.checkpoint(epoch, on_event)?;
        if flow.is_break() {
            self.history.interrupted = epoch < self.config.epochs;
        }
        Ok(flow)
    }

    /// The epoch's optimizer steps, with a `Step` event after each; `None` when the run ends
    /// inside the epoch (the caller asked, or a step turned non-finite).
    fn steps(&mut self, epoch: usize, clock: Instant, on_event: OnEvent) -> Result<Option<Totals>> {
        let mut rng = epoch_rng(self.config.seed, epoch);
        let train = &self.data.train;
        let batches = length_buckets(&train.ids, self.config.batch_size, &mut rng);
        let mut totals = Totals::default();
        for (step, idx) in (1..).zip(&batches) {
            let seqs: Vec<Vec<u32>> = idx.iter().map(|&i| train.ids[i].clone()).collect();
            let y: Vec<u32> = idx.iter().map(|&i| train.y[i]).collect();
            let mut dropout = Dropout::new(self.config.dropout, &mut rng);
            let clip = self.config.clip_norm;
            match self.state.step(&self.model, &seqs, &y, &mut dropout, clip, &self.device)? {
                Stepped::Done {
                    loss,
                    logits,
                    tokens,
                } => totals.add(loss, &logits, &y, tokens),
                Stepped::NonFinite(what) => {
                    self.diverge(epoch, step, what);
                    return Ok(None);
                }
            }
            let flow = on_event(&TrainEvent::Step {
                epoch,
                step,
                steps: batches.len(),
                loss: totals.mean_loss(),
                accuracy: totals.accuracy(),
                tokens_per_second: totals.tokens as f64 / clock.elapsed().as_secs_f64(),
            });
            if flow.is_break() {
                self.interrupt(epoch, step)?;
                return Ok(None);
            }
        }
        Ok(Some(totals))
    }

    /// Dev loss and figures of `weights`, or `None` (the divergence recorded) when the weights
    /// or the dev loss are not finite.
    fn score(
        &mut self,
        weights: &Weights,
        epoch: usize,
        step: usize,
    ) -> Result<Option<(f64, Evaluation)>> {
        if let Some(what) = non_finite_weights(weights)? {
            self.diverge(epoch, step, what);
            return Ok(None);
        }
        let model = Model::from_weights(&self.model_config, weights)?;
        let (loss, eval) = evaluate(&model, &self.data, &self.device)?;
        if !loss.is_finite() {
            self.diverge(epoch, step, format!("the dev loss is {loss}"));
            return Ok(None);
        }
        Ok(Some((loss, eval)))
    }

    fn diverge(&mut self, epoch: usize, step: usize, what: String) {
        self.history.diverged = Some(Divergence { epoch, step, what });
    }

    /// The caller asked to stop inside an epoch. With no epoch evaluated yet, the weights as
    /// they are become the best rather than nothing.
    fn interrupt(&mut self, epoch: usize, step: usize) -> Result<()> {
        self.history.interrupted = true;
        if self.history.best.is_none() {
            let weights = snapshot(&self.state.weights(&self.device)?)?;
            if let Some((_, eval)) = self.score(&weights, epoch, step)? {
                self.history.best = Some(Best::new(epoch, weights, &eval));
            }
        }
        Ok(())
    }

    fn checkpoint(&self, epoch: usize, on_event: OnEvent) -> Result<()> {
        let Some(dir) = self.checkpoint_dir else {
            return Ok(());
        };
        let h = &self.history;
        let progress = Progress {
            version: Checkpoint::version(),
            config: self.config.clone(),
            tokenizer_json: self.data.tokenizer.to_json()?,
            fingerprint: self.data.fingerprint,
            epoch,
            since_best: h.since_best,
            records: h.records.clone(),
            best_epoch: h.best.as_ref().map_or(0, |b| b.epoch),
            best_accuracy: h.best.as_ref().map_or(0.0, |b| b.accuracy),
            best_macro_f1: h.best.as_ref().map_or(0.0, |b| b.macro_f1),
            dense_step: 0,
            sparse_step: 0,
            seconds: self.seconds(),
        };
        self.state
            .checkpoint(progress, h.best.as_ref(), &self.device)?
            .save(dir)?;
        let _ = on_event(&TrainEvent::Checkpoint {
            epoch,
            path: checkpoint_path(dir),
        });
        Ok(())
    }

    fn seconds(&self) -> f64 {
        self.history.earlier_seconds + self.started.elapsed().as_secs_f64()
    }

    /// The classifier of the best epoch and the report; an error when training turned
    /// non-finite before any epoch finished.
    pub fn finish(self) -> Result<(Classifier, TrainReport)> {
        let seconds = self.seconds();
        let h = self.history;
        let best = match (h.best, h.diverged.clone()) {
            (Some(best), _) => best,
            (None, Some(diverged)) => return Err(Error::Diverged(diverged)),
            (None, None) => return Err(Error::Config("no epoch was run".into())),
        };
        let report = TrainReport {
            config: self.config,
            train_examples: self.data.train.len(),
            dev_examples: self.data.dev.len(),
            epochs: h.records,
            best_epoch: best.epoch,
            dev_accuracy: best.accuracy,
            dev_macro_f1: best.macro_f1,
            seconds,
            interrupted: h.interrupted,
            diverged: h.diverged,
        };
        let mut model_config = self.model_config;
        model_config.training = Some(
            serde_json::to_value(&report)
                .map_err(|e| Error::Config(format!("cannot record the training report: {e}")))?,
        );
        let files = ModelFiles {
            config: model_config,
            tokenizer: self.data.tokenizer,
            weights: best.weights,
        };
        Ok((Classifier::from_files(files, self.device)?, report))
    }
}

impl History {
    fn new() -> Self {
        Self {
            records: Vec::new(),
            best: None,
            since_best: 0,
            first_epoch: 1,
            earlier_seconds: 0.0,
            interrupted: false,
            diverged: None,
        }
    }
}

/// The checkpoint to continue from, when asked to resume.
fn resume(checkpointing: &Checkpointing, device: &Device) -> Result<Option<Checkpoint>> {
    match (&checkpointing.dir, checkpointing.resume) {
        (Some(dir), true) => Ok(Some(Checkpoint::load(dir, device)?)),
        (None, true) => Err(Error::Config(
            "resuming needs a checkpoint directory".into(),
        )),
        (_, false) => Ok(None),
    }
}

fn model_config(config: &TrainConfig, data: &Encoded) -> Result<ModelConfig> {
    let model_config = ModelConfig {
        format_version: FORMAT_VERSION,
        cell: config.cell,
        vocab_size: data.tokenizer.vocab_size(),
        embedding_dim: config.embedding_dim,
        hidden_size: config.hidden_size,
        num_layers: config.num_layers,
        bidirectional: config.bidirectional,
        labels: data.labels.clone(),
        label_aliases: Default::default(),
        max_length: config.max_length,
        tokenizer: config.tokenizer.clone(),
        dtype: Some(WeightDtype::Float32),
        training: None,
    };
    model_config.validate()?;
    Ok(model_config)
}

fn adamw(config: &TrainConfig) -> ParamsAdamW {
    ParamsAdamW {
        lr: config.lr,
        weight_decay: config.weight_decay,
        ..Default::default()
    }
}

/// Starts the embedding rows from word vectors when the config asks for it, and refuses
/// vectors that are not finite.
fn start_from_vectors(
    config: &TrainConfig,
    tokenizer: &TextTokenizer,
    train: &[Example],
    weights: &mut Weights,
    on_event: OnEvent,
) -> Result<()> {
    let vectors = match &config.embeddings {
        EmbeddingInit::Random => return Ok(()),
        EmbeddingInit::Vectors { path } => Embeddings::from_file(path, Utf8::Lossy)?,
        EmbeddingInit::Word2Vec { unlabeled } => pretrain_word2vec(config, train, unlabeled)?,
    };
    let table = weights
        .get(EMBEDDING)
        .ok_or_else(|| Error::Config("no embedding to start".into()))?;
    let (shape, device) = (table.shape().clone(), table.device().clone());
    let mut values = table.flatten_all()?.to_vec1::<f32>()?;
    let coverage = embedding_init(tokenizer, &vectors, &mut values)?;
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::Config(format!(
            "the starting word vectors hold a non-finite value ({v})"
        )));
    }
    weights.insert(EMBEDDING.to_string(), Tensor::from_vec(values, shape, &device)?);
    let _ = on_event(&TrainEvent::Embeddings {
        matched: coverage.matched,
        words: coverage.words,
    });
    Ok(())
}

fn pretrain_word2vec(
    config: &TrainConfig,
    train: &[Example],
    unlabeled: &Option<std::path::PathBuf>,
) -> Result<Embeddings> {
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
    crate::word2vec::train(&texts, &w2v, |_| ControlFlow::Continue(()))
}

/// Running sums of an epoch's steps.
#[derive(Default)]
struct Totals {
    steps: usize,
    loss_sum: f64,
    correct: usize,
    seen: usize,
    tokens: usize,
}

impl Totals {
    fn add(&mut self, loss: f64, logits: &[Vec<f32>], y: &[u32], tokens: usize) {
        self.steps += 1;
        self.loss_sum += loss * y.len() as f64;
        for (row, &gold) in logits.iter().zip(y) {
            self.correct += usize::from(argmax(row) == gold as usize);
        }
        self.seen += y.len();
        self.tokens += tokens;
    }

    fn mean_loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }

    fn accuracy(&self) -> f64 {
        self.correct as f64 / self.seen.max(1) as f64
    }
}

/// Dev loss and figures, without dropout or gradients.
fn evaluate(model: &Model, data: &Encoded, device: &Device) -> Result<(f64, Evaluation)> {
    let (ids, y) = (&data.dev.ids, &data.dev.y);
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
    let eval = Evaluation::from_predictions(&data.labels, &gold, &predicted)?;
    Ok((loss_sum / ids.len().max(1) as f64, eval))
}
