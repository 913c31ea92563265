//! One pretraining run, in the order it happens: resume, split, tokenize, cut into windows,
//! initialize, the epochs (steps, held-out perplexity, checkpoints), and the result.
//!
//! Each step draws its dropout masks and negative words from a generator of its own, seeded
//! from (seed, epoch, step), and the batches of an epoch come from (seed, epoch): a run resumed
//! at any step draws exactly what an uninterrupted one would, so checkpoints can be written in
//! the middle of an epoch.

use super::config::{PretrainConfig, MAX_HELDOUT_TEXTS};
use super::objective::{self, Head};
use super::pretrained::{Pretrained, PretrainedConfig, PRETRAINED_FORMAT_VERSION, PRETRAINED_KIND};
use super::sampled::{Sampler, Scoring};
use super::score::{score_windows, token_at};
use super::windows::{check_enough, encode_all, fingerprint, split_heldout, Windows};
use super::{PretrainEpoch, PretrainEvent, PretrainReport};
use crate::config::EncoderShape;
use crate::dropout::{Dropout, Generator};
use crate::embedding::Embedding;
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::model::{encoder_from_weights, init_encoder, snapshot, Batch, Weights};
use crate::tokenizer::TextTokenizer;
use crate::train::{
    checkpoint_path, epoch_rng, length_buckets, Checkpoint, Checkpointing, Divergence, Resumable,
    Schedule, TrainState,
};
use crate::word2vec::sampling::Rng;
use candle_core::Device;
use candle_nn::ParamsAdamW;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

type OnEvent<'e> = &'e mut dyn FnMut(&PretrainEvent) -> ControlFlow<()>;

/// The scalars of a pretraining checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Progress {
    version: u32,
    config: PretrainConfig,
    tokenizer_json: String,
    fingerprint: u64,
    /// Where the resumed run continues.
    next_epoch: usize,
    next_step: usize,
    /// The sums of the epoch under way.
    totals: Totals,
    records: Vec<PretrainEpoch>,
    dense_step: i32,
    sparse_step: i32,
    seconds: f64,
}

impl Resumable for Progress {
    const KEY: &'static str = "lstm_sentiment_pretrain_checkpoint";
    const VERSION: u32 = 1;
    const RUN: &'static str = "pretraining";
    fn version(&self) -> u32 {
        self.version
    }
}

/// What an epoch's steps add up.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Totals {
    /// The sum of every prediction's loss.
    loss: f64,
    predictions: u64,
    tokens: u64,
}

impl Totals {
    fn mean_loss(&self) -> f64 {
        self.loss / self.predictions.max(1) as f64
    }
}

pub(super) struct Run<'a> {
    config: PretrainConfig,
    checkpoint_dir: Option<&'a Path>,
    device: Device,
    started: Instant,
    tokenizer: TextTokenizer,
    fingerprint: u64,
    shape: EncoderShape,
    texts: usize,
    heldout_texts: usize,
    train: Windows,
    heldout: Windows,
    sampler: Sampler,
    state: TrainState,
    /// The networks the steps run through, sharing storage with `state`'s weights.
    encoder: Encoder,
    head: Head,
    schedule: Schedule,
    steps_per_epoch: usize,
    records: Vec<PretrainEpoch>,
    next: (usize, usize),
    totals: Totals,
    earlier_seconds: f64,
    interrupted: bool,
}

impl<'a> Run<'a> {
    /// Everything before the first step.
    pub fn start<S: AsRef<str>>(
        texts: &[S],
        config: &PretrainConfig,
        checkpointing: &'a Checkpointing,
    ) -> Result<Self> {
        let started = Instant::now();
        let device = Device::Cpu;
        let resumed = match (&checkpointing.dir, checkpointing.resume) {
            (Some(dir), true) => Some(Checkpoint::<Progress>::load(dir, &device)?),
            (None, true) => {
                return Err(Error::Config(
                    "resuming needs a checkpoint directory".into(),
                ))
            }
            (_, false) => None,
        };
        let config = resumed
            .as_ref()
            .map_or(config, |c| &c.progress.config)
            .clone();
        config.validate()?;
        let fingerprint = fingerprint(texts);
        let origin = checkpointing.dir.as_deref().map(checkpoint_path);
        let (train_at, heldout_at) =
            split_heldout(texts.len(), config.heldout, MAX_HELDOUT_TEXTS, config.seed);
        let pick = |at: &[usize]| at.iter().map(|&i| texts[i].as_ref()).collect::<Vec<&str>>();
        let (train_texts, heldout_texts) = (pick(&train_at), pick(&heldout_at));
        let tokenizer = match (&resumed, &origin) {
            (Some(c), Some(origin)) => {
                if c.progress.fingerprint != fingerprint {
                    return Err(Error::model(
                        origin,
                        "the checkpoint was made on other text; resume with the same files",
                    ));
                }
                TextTokenizer::from_json(&c.progress.tokenizer_json, origin)?
            }
            _ => TextTokenizer::build(train_texts.iter().copied(), &config.tokenizer)?,
        };
        let train = Windows::cut(&encode_all(&tokenizer, &train_texts)?, config.max_length);
        let heldout = Windows::cut(&encode_all(&tokenizer, &heldout_texts)?, config.max_length);
        check_enough(&train, train_texts.len())?;
        let shape = config.shape(tokenizer.vocab_size());
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut init = init_encoder(&shape, &mut rng, &device)?;
        init.extend(objective::init(
            config.objective,
            &shape,
            &mut rng,
            &device,
        )?);
        let params = ParamsAdamW {
            lr: config.lr,
            weight_decay: 0.0,
            ..Default::default()
        };
        let state = TrainState::new(shape.embedding_dim, init, false, params, 0.0)?;
        let encoder = encoder_from_weights(&shape, &state.live)?;
        let head = Head::new(config.objective, &shape, &state.live)?;
        let steps_per_epoch = train.len().div_ceil(config.batch_size);
        let schedule = Schedule::new(
            config.lr,
            config.lr_schedule,
            config.warmup,
            config.epochs,
            steps_per_epoch,
        );
        let mut run = Run {
            sampler: Sampler::new(&train.counts(shape.vocab_size)),
            checkpoint_dir: checkpointing.dir.as_deref(),
            device,
            started,
            tokenizer,
            fingerprint,
            shape,
            texts: train_texts.len(),
            heldout_texts: heldout_texts.len(),
            train,
            heldout,
            state,
            encoder,
            head,
            schedule,
            steps_per_epoch,
            records: Vec::new(),
            next: (1, 1),
            totals: Totals::default(),
            earlier_seconds: 0.0,
            interrupted: false,
            config,
        };
        if let (Some(c), Some(origin)) = (&resumed, &origin) {
            let p = &c.progress;
            run.state
                .restore_state(c, (p.dense_step, p.sparse_step), origin)?;
            (run.next, run.totals) = ((p.next_epoch, p.next_step), p.totals);
            (run.records, run.earlier_seconds) = (p.records.clone(), p.seconds);
        }
        Ok(run)
    }

    fn parameters(&self) -> usize {
        let objective = objective::tensors(self.config.objective, &self.shape);
        let encoder = self.shape.tensors().into_iter().map(|t| t.shape);
        (encoder.chain(objective.into_iter().map(|(_, s)| s)))
            .map(|s| s.iter().product::<usize>())
            .sum()
    }

    /// Runs the epochs until the last one or until the caller asks to stop.
    pub fn epochs(&mut self, on_event: OnEvent) -> Result<()> {
        let _ = on_event(&PretrainEvent::Started {
            first_epoch: self.next.0,
            first_step: self.next.1,
            texts: self.texts,
            heldout_texts: self.heldout_texts,
            windows: self.train.len(),
            tokens: self.train.tokens(),
            vocab_size: self.shape.vocab_size,
            steps_per_epoch: self.steps_per_epoch,
            parameters: self.parameters(),
        });
        while self.next.0 <= self.config.epochs {
            if self.epoch(self.next.0, on_event)?.is_break() {
                self.interrupted = true;
                break;
            }
        }
        Ok(())
    }

    /// The rest of epoch `epoch` from `self.next`: its steps, the held-out perplexity, a
    /// checkpoint. `Break` when the caller asked to stop (a checkpoint is written first).
    fn epoch(&mut self, epoch: usize, on_event: OnEvent) -> Result<ControlFlow<()>> {
        let clock = Instant::now();
        let mut clock_tokens = 0u64;
        let batches = length_buckets(
            &self.train.ids,
            self.config.batch_size,
            &mut epoch_rng(self.config.seed, epoch),
        );
        let first = self.next.1;
        for (step, batch) in (1..).zip(&batches).skip(first - 1) {
            let tokens = self.step(epoch, step, batch)?;
            clock_tokens += tokens;
            self.next = (epoch, step + 1);
            let flow = on_event(&PretrainEvent::Step {
                epoch,
                step,
                steps: batches.len(),
                loss: self.totals.mean_loss(),
                tokens_per_second: clock_tokens as f64 / clock.elapsed().as_secs_f64(),
                lr: self.schedule.at(epoch, step),
            });
            if flow.is_break() {
                self.checkpoint(on_event)?;
                return Ok(ControlFlow::Break(()));
            }
            let every = self.config.checkpoint_steps;
            if every > 0 && step % every == 0 && step < batches.len() {
                self.checkpoint(on_event)?;
            }
        }
        let heldout_loss = self.heldout_loss()?;
        let record = PretrainEpoch {
            epoch,
            train_loss: self.totals.mean_loss(),
            heldout_loss,
            heldout_perplexity: heldout_loss.map(f64::exp),
            seconds: clock.elapsed().as_secs_f64(),
            tokens_per_second: clock_tokens as f64 / clock.elapsed().as_secs_f64(),
            lr: self.schedule.end_of(epoch),
        };
        self.records.push(record.clone());
        (self.next, self.totals) = ((epoch + 1, 1), Totals::default());
        let flow = on_event(&PretrainEvent::Epoch(record));
        self.checkpoint(on_event)?;
        Ok(flow)
    }

    /// One optimizer step on the windows `batch`; gives the tokens it read.
    fn step(&mut self, epoch: usize, step: usize, batch: &[usize]) -> Result<u64> {
        let seed = self.config.seed
            ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (step as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut rng = Generator::seed_from_u64(seed);
        let negatives = self.sampler.draw(self.config.samples, &mut Rng::new(seed));
        let windows: Vec<Vec<u32>> = batch.iter().map(|&i| self.train.ids[i].clone()).collect();
        let tokens: usize = windows.iter().map(Vec::len).sum();
        let mut ids = windows.clone();
        ids.push(negatives.clone());
        let lr = self.schedule.at(epoch, step);
        self.state.set_lr(lr, lr);
        let mut dropout = Dropout::new(self.config.dropout, &mut rng);
        let device = self.device.clone();
        let stepped = self
            .state
            .step_rows(&ids, self.config.clip_norm, &device, |tables| {
                // A pretraining state has no bigram table.
                let (rows, local) = (tables.words, tables.word_ids);
                let (local_windows, local_negatives) = local.split_at(windows.len());
                let batch = Batch::new(local_windows, &device)?;
                let xs = Embedding::new(rows.clone())
                    .forward_with_host_ids(&batch.ids, batch.host_ids())?;
                let predicted =
                    (self.head).predict(&self.encoder, &xs, &batch.steps, Some(&mut dropout))?;
                let (targets, targets_local) = (
                    token_at(&windows, &predicted.targets),
                    token_at(local_windows, &predicted.targets),
                );
                let scoring = Scoring {
                    rows,
                    bias: self.head.bias(),
                    sampler: &self.sampler,
                    negatives: &negatives,
                    negatives_local: &local_negatives[0],
                };
                let loss = scoring.loss(&predicted.z, &targets, &targets_local)?;
                Ok((loss.into(), targets.len()))
            })?;
        match stepped {
            Ok((loss, predictions)) => {
                self.totals.loss += loss * predictions as f64;
                self.totals.predictions += predictions as u64;
                self.totals.tokens += tokens as u64;
                Ok(tokens as u64)
            }
            Err(what) => Err(Error::Diverged(Divergence { epoch, step, what })),
        }
    }

    /// The held-out windows' mean negative log-likelihood per prediction, exact softmax.
    fn heldout_loss(&self) -> Result<Option<f64>> {
        if self.heldout.len() == 0 {
            return Ok(None);
        }
        let weights = self.state.weights(&self.device)?;
        let (nll, count) = score_windows(
            self.config.objective,
            &self.shape,
            &weights,
            &self.heldout.ids,
            self.config.batch_size,
        )?;
        Ok(Some(nll / count.max(1) as f64))
    }

    fn checkpoint(&self, on_event: OnEvent) -> Result<()> {
        let Some(dir) = self.checkpoint_dir else {
            return Ok(());
        };
        let (tensors, dense_step, sparse_step) = self.state.state_tensors(&self.device)?;
        let progress = Progress {
            version: Progress::VERSION,
            config: self.config.clone(),
            tokenizer_json: self.tokenizer.to_json()?,
            fingerprint: self.fingerprint,
            next_epoch: self.next.0,
            next_step: self.next.1,
            totals: self.totals,
            records: self.records.clone(),
            dense_step,
            sparse_step,
            seconds: self.seconds(),
        };
        Checkpoint { progress, tensors }.save(dir)?;
        let _ = on_event(&PretrainEvent::Checkpoint {
            next_epoch: self.next.0,
            next_step: self.next.1,
            path: checkpoint_path(dir),
        });
        Ok(())
    }

    fn seconds(&self) -> f64 {
        self.earlier_seconds + self.started.elapsed().as_secs_f64()
    }

    /// The pretrained encoder as it is now, and the report.
    pub fn finish(self) -> Result<(Pretrained, PretrainReport)> {
        let report = PretrainReport {
            config: self.config.clone(),
            texts: self.texts,
            heldout_texts: self.heldout_texts,
            windows: self.train.len(),
            tokens: self.train.tokens(),
            epochs: self.records.clone(),
            seconds: self.seconds(),
            interrupted: self.interrupted,
        };
        let weights: Weights = snapshot(&self.state.weights(&self.device)?)?;
        let training = serde_json::to_value(&report)
            .map_err(|e| Error::Config(format!("cannot record the pretraining report: {e}")))?;
        let config = PretrainedConfig {
            format_version: PRETRAINED_FORMAT_VERSION,
            kind: PRETRAINED_KIND.to_string(),
            objective: self.config.objective,
            shape: self.shape,
            max_length: self.config.max_length,
            tokenizer: self.config.tokenizer.clone(),
            training: Some(training),
        };
        let pretrained = Pretrained {
            config,
            tokenizer: self.tokenizer,
            weights,
        };
        Ok((pretrained, report))
    }
}
