//! Training: data -> vocabulary -> batches -> AdamW with clipping -> the best epoch on dev.
//!
//! Progress goes to a caller's callback as [`TrainEvent`]s; nothing here prints. A run checks
//! everything it can before its first step (hyperparameters, files, memory) and stops at the
//! first non-finite loss, gradient or weight (see [`TrainReport::diverged`]).

mod batching;
mod checkpoint;
mod config;
mod encoded;
mod finetune;
mod guard;
mod init;
mod preflight;
mod run;
mod schedule;
mod split;
mod state;
mod tally;

pub use checkpoint::{checkpoint_path, CHECKPOINT_FILE};
pub use config::{EmbeddingInit, EncoderInit, TrainConfig, MAX_LR};
pub use guard::Divergence;
pub use preflight::check_writable_dir;
pub use schedule::LrSchedule;
pub use split::training_labels;

pub(crate) use batching::{epoch_rng, length_buckets, Fingerprint};
pub(crate) use checkpoint::{Checkpoint, Resumable};
pub(crate) use schedule::Schedule;
pub(crate) use state::TrainState;

use crate::classifier::Classifier;
use crate::data::Example;
use crate::error::Result;
use run::Run;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use std::path::PathBuf;

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// The dev figures are 0 in a run without a dev set (`dev_fraction` 0).
    pub dev_loss: f64,
    pub dev_accuracy: f64,
    pub dev_macro_f1: f64,
    pub seconds: f64,
    pub tokens_per_second: f64,
    /// The learning rate of the epoch's last step (the embedding table's is this times
    /// `embedding_lr_scale`); 0 where a stored record lacks it.
    #[serde(default)]
    pub lr: f64,
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
        /// The learning rate this step used.
        lr: f64,
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
    /// The embedding and the encoder start from a pretrained encoder (`objective`, with
    /// `vocab_size` words).
    PretrainedEncoder {
        objective: crate::pretrain::Objective,
        vocab_size: usize,
    },
    /// Progress of the language-model pretraining that runs first.
    Pretraining(crate::pretrain::PretrainEvent),
}

/// The outcome of a run, also recorded in the model's config.json under `training`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    pub config: TrainConfig,
    pub train_examples: usize,
    pub dev_examples: usize,
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose weights were kept: the best on dev, or without a dev set the last.
    pub best_epoch: usize,
    pub dev_accuracy: f64,
    pub dev_macro_f1: f64,
    pub seconds: f64,
    /// True when the callback asked to stop before the last epoch.
    pub interrupted: bool,
    /// Where the loss, a gradient or the weights turned non-finite, when they did. The run
    /// stopped there and kept its best epoch with finite weights; without one, training
    /// returns [`crate::Error::Diverged`] instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<Divergence>,
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
    let mut run = Run::start(train, dev, config, checkpointing, on_event)?;
    run.epochs(on_event)?;
    run.finish()
}
