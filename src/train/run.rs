//! One training run, in the order it happens: resume, split, tokenize, initialize, the epochs
//! (steps, dev evaluation, checkpoint), and the report.

use super::batching::{epoch_rng, length_buckets};
use super::checkpoint::{checkpoint_path, Checkpoint, Progress};
use super::encoded::Encoded;
use super::finetune::trained_in;
use super::guard::non_finite_weights;
use super::init::{
    adamw, model_config, pretrained_encoder, start_from_pretrained, start_from_vectors,
};
use super::preflight;
use super::report::OnEvent;
use super::schedule::Schedule;
use super::split::split;
use super::state::{Best, Stepped, TrainState};
use super::tally::{evaluate, Totals};
use super::{Checkpointing, EpochRecord, TrainConfig, TrainEvent, TrainReport};
use crate::classifier::Classifier;
use crate::config::ModelConfig;
use crate::data::Example;
use crate::dropout::{drop_words, Dropout};
use crate::error::{Divergence, Error, Result};
use crate::metrics::{ConfusionMatrix, Evaluation};
use crate::model::{init_weights, snapshot, Model, Weights};
use crate::model_dir::ModelFiles;
use crate::ngram::{TextShape, AUTO_BUCKETS};
use crate::tokenizer::UNK_ID;
use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::cell::LazyCell;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

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
    /// The learning rate of every step.
    schedule: Schedule,
    history: History,
    /// With self-training, what the teacher added (for the report).
    self_training: Option<super::SelfTraining>,
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
    /// Everything before the first step: resume, check, split, tokenize, initialize. `added`
    /// rows join the training part after the dev part is held out (self-training's
    /// pseudo-labelled texts, which must not be scored as dev).
    pub fn start(
        train: &[Example],
        dev: Option<&[Example]>,
        added: &[Example],
        config: &TrainConfig,
        checkpointing: &'a Checkpointing,
        on_event: OnEvent,
    ) -> Result<Self> {
        let started = Instant::now();
        let device = config.device.open()?;
        let resumed = resume(checkpointing, &device)?;
        let mut config = match &resumed {
            Some(c) => TrainConfig {
                device: config.device,
                ..c.progress.config.clone()
            },
            None => config.clone(),
        };
        // Read once, and only when a default left to the texts needs it.
        let shape = LazyCell::new(|| TextShape::of(train.iter().map(|e| e.text.as_str())));
        let long_or_ideographic = LazyCell::new(|| shape.ideographic || shape.long);
        if config.ngram_buckets.is_none() {
            config.ngram_buckets = Some(if *long_or_ideographic {
                AUTO_BUCKETS
            } else {
                0
            });
        }
        // The built-in encoder when `Auto` chose it, already loaded.
        let builtin = match resumed {
            None => super::auto_encoder::resolve(&mut config, train, shape.ideographic)?,
            Some(_) => None,
        };
        config.validate()?;
        preflight::check_files(&config, checkpointing)?;
        let origin = checkpointing.dir.as_deref().map(checkpoint_path);
        let mut rng = StdRng::seed_from_u64(config.seed);
        let (mut train, dev) = split(train, dev, config.dev_fraction, &mut rng)?;
        train.extend_from_slice(added);
        let resumed_from = resumed.as_ref().zip(origin.as_deref());
        let pretrained = match resumed {
            None => pretrained_encoder(&config, &train, builtin, on_event)?,
            // The checkpoint holds the tokenizer and the weights.
            Some(_) => None,
        };
        let given = pretrained.as_ref().map(|p| &p.tokenizer);
        let data = Encoded::new(&train, &dev, &config, resumed_from, given)?;
        let tokens = data.train.tokens();
        if config.adversarial.is_none() {
            config.adversarial = Some(super::auto_adversarial(tokens, *long_or_ideographic));
        }
        let ema = *config.ema.get_or_insert_with(|| super::auto_ema(tokens));
        if config.epochs.is_none() {
            config.epochs = Some(super::auto_epochs(&config.encoder, tokens, ema));
        }
        let model_config = model_config(&config, &data)?;
        let batch = config.batch_size.min(data.train.len());
        preflight::check_memory(&model_config, batch, data.longest())?;

        let mut init = init_weights(&model_config, &mut rng, &device)?;
        match (&resumed, &pretrained) {
            (Some(_), _) => {}
            (None, Some(pretrained)) => {
                let builtin = config.encoder == super::EncoderInit::BuiltinChinese;
                start_from_pretrained(pretrained, builtin, &mut init, on_event)?
            }
            (None, None) => {
                start_from_vectors(&config, &data.tokenizer, &train, &mut init, on_event)?
            }
        }
        let state = TrainState::new(
            model_config.embedding_dim,
            init,
            config.freeze_embeddings,
            adamw(&config),
            ema,
        )?;
        let model = Model::from_weights(&model_config, &state.placeholder_weights(&device)?)?;
        let schedule = Schedule::new(
            config.lr,
            config.lr_schedule,
            config.warmup,
            config.max_epochs(),
            steps_per_epoch(&config, &data),
        );
        let mut run = Run {
            config,
            checkpoint_dir: checkpointing.dir.as_deref(),
            device,
            started,
            data,
            model_config,
            state,
            model,
            schedule,
            history: History::new(),
            self_training: None,
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
            if let Some(what) = non_finite_weights(&weights)? {
                return Err(Error::model(
                    origin,
                    format!("the checkpoint's best epoch is not finite: {what}"),
                ));
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
        while epoch <= self.config.max_epochs() && !self.patience_ran_out() {
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
            train_tokens: self.data.train.tokens(),
            dev_examples: self.data.dev.len(),
            vocab_size: self.data.tokenizer.vocab_size(),
            labels: self.data.labels.clone(),
            steps_per_epoch: steps_per_epoch(&self.config, &self.data),
            parameters: self.model_config.parameter_count(),
            adversarial: self.config.adversarial.unwrap_or(0.0),
            epochs: self.config.max_epochs(),
            ema: self.config.ema.unwrap_or(0.0),
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
        let weights = self.state.scored_weights(&self.device)?;
        let Some((dev_loss, eval)) = self.score(&weights, epoch, totals.steps)? else {
            return Ok(ControlFlow::Break(()));
        };
        // Without a dev set every epoch counts as the best: the last one is kept.
        let improved = self.data.dev.len() == 0
            || self
                .history
                .best
                .as_ref()
                .is_none_or(|b| eval.accuracy > b.accuracy);
        let record = EpochRecord {
            epoch,
            train_loss: totals.mean_loss(),
            train_accuracy: totals.accuracy(),
            dev_loss,
            dev_accuracy: eval.accuracy,
            dev_macro_f1: eval.macro_f1,
            seconds: clock.elapsed().as_secs_f64(),
            tokens_per_second: totals.tokens as f64 / train_seconds,
            lr: self.schedule.end_of(epoch),
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
            self.history.interrupted = epoch < self.config.max_epochs();
        }
        Ok(flow)
    }

    /// The epoch's optimizer steps, with a `Step` event after each; `None` when the run ends
    /// inside the epoch (the caller asked, or a step turned non-finite).
    fn steps(&mut self, epoch: usize, clock: Instant, on_event: OnEvent) -> Result<Option<Totals>> {
        let mut rng = epoch_rng(self.config.seed, epoch);
        let trained = trained_in(&self.config, &self.model_config, epoch);
        (self.state).set_trained(|name| trained.scale(name), trained.embedding);
        let train = &self.data.train;
        let batches = length_buckets(&train.ids, self.config.batch_size, &mut rng);
        let mut totals = Totals::default();
        for (step, idx) in (1..).zip(&batches) {
            let mut seqs: Vec<Vec<u32>> = idx.iter().map(|&i| train.ids[i].clone()).collect();
            let y: Vec<u32> = idx.iter().map(|&i| train.y[i]).collect();
            drop_words(&mut seqs, self.config.word_dropout, UNK_ID, &mut rng);
            let lr = self.schedule.at(epoch, step);
            self.state.set_lr(lr, lr * self.config.embedding_lr_scale);
            let mut dropout = Dropout::new(self.config.dropout, &mut rng)
                .with_embedding(self.config.embedding_dropout_rate());
            let clip = self.config.clip_norm;
            // Decided when the run started.
            let adversarial = self.config.adversarial.unwrap_or(0.0);
            match (self.state).step(
                &self.model,
                &seqs,
                &y,
                &mut dropout,
                adversarial,
                clip,
                &self.device,
            )? {
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
                lr,
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
            let weights = snapshot(&self.state.scored_weights(&self.device)?)?;
            if let Some((_, eval)) = self.score(&weights, epoch, step)? {
                self.history.best = Some(Best::new(epoch, weights, &eval));
            }
        }
        Ok(())
    }

    fn checkpoint(&mut self, epoch: usize, on_event: OnEvent) -> Result<()> {
        let Some(dir) = self.checkpoint_dir else {
            return Ok(());
        };
        let h = &self.history;
        let progress = Progress {
            version: Checkpoint::version_for(&self.config),
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
            average_updates: 0,
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

    /// The dev confusion matrix of the kept `weights`, worked out again rather than kept from
    /// their epoch, which may have run before a resume.
    fn kept_confusion(&self, weights: &Weights) -> Result<Option<ConfusionMatrix>> {
        if self.data.dev.len() == 0 {
            return Ok(None);
        }
        let model = Model::from_weights(&self.model_config, weights)?;
        let (_, eval) = evaluate(&model, &self.data, &self.device)?;
        Ok(eval.confusion_matrix())
    }

    /// Records in the report what self-training added to this (the student's) run.
    pub fn set_self_training(&mut self, added: super::SelfTraining) {
        self.self_training = Some(added);
    }

    /// The classifier of the best epoch and the report; an error when training turned
    /// non-finite before any epoch finished.
    pub fn finish(self) -> Result<(Classifier, TrainReport)> {
        let seconds = self.seconds();
        let dev_confusion = match &self.history.best {
            Some(best) => self.kept_confusion(&best.weights)?,
            None => None,
        };
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
            dev_confusion,
            self_training: self.self_training,
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

/// Optimizer steps in one epoch: the number of batches [`length_buckets`] cuts.
fn steps_per_epoch(config: &TrainConfig, data: &Encoded) -> usize {
    data.train.len().div_ceil(config.batch_size)
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
