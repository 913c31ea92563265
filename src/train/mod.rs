//! Training: data -> vocabulary -> batches -> AdamW with clipping -> the best epoch on dev.
//!
//! Progress goes to a caller's callback as [`TrainEvent`]s; nothing here prints. A run checks
//! everything it can before its first step (hyperparameters, files, memory) and stops at the
//! first non-finite loss, gradient or weight (see [`TrainReport::diverged`]).

mod adversarial;
mod auto;
mod auto_encoder;
mod average;
mod batching;
mod checkpoint;
mod config;
mod encoded;
mod finetune;
mod guard;
mod init;
mod preflight;
mod report;
mod run;
mod schedule;
mod self_train;
mod split;
mod state;
mod step_loss;
mod tally;

pub use crate::error::Divergence;
pub use adversarial::{auto_adversarial, AUTO_ADVERSARIAL, AUTO_ADVERSARIAL_LONG};
pub use auto::{auto_ema, auto_epochs};
pub use auto_encoder::AUTO_ENCODER_COVERAGE;
pub use checkpoint::{checkpoint_path, Checkpointing, CHECKPOINT_FILE};
pub use config::{
    EmbeddingInit, EncoderInit, SelfTrain, TrainConfig, BUILTIN_ENCODER_EPOCHS, EPOCHS, LARGE_EMA,
    LARGE_EPOCHS, LARGE_TOKENS, MAX_LR, SELF_TRAIN_KEEP,
};
pub use preflight::check_writable_dir;
pub use report::{EpochRecord, SelfTraining, TrainEvent, TrainReport};
pub use schedule::LrSchedule;
pub use self_train::{resumes_self_training, SELF_TRAINING_FILE};
pub use split::training_labels;

pub(crate) use batching::{epoch_rng, length_buckets, Fingerprint};
pub(crate) use checkpoint::{Checkpoint, Resumable};
pub(crate) use schedule::Schedule;
pub(crate) use state::TrainState;

use crate::classifier::Classifier;
use crate::data::Example;
use crate::error::Result;
use run::Run;
use std::ops::ControlFlow;

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
/// resumed run ends with the same weights as an uninterrupted one with the same seed. With
/// `config.self_train` (or when resuming such a run), a teacher is trained first and the
/// student returned (see `self_train.rs`).
pub fn train_with(
    train: &[Example],
    dev: Option<&[Example]>,
    config: &TrainConfig,
    checkpointing: &Checkpointing,
    on_event: &mut dyn FnMut(&TrainEvent) -> ControlFlow<()>,
) -> Result<(Classifier, TrainReport)> {
    let resumes_self_training =
        checkpointing.resume && (checkpointing.dir.as_deref()).is_some_and(resumes_self_training);
    if config.self_train.is_some() || resumes_self_training {
        return self_train::train(train, dev, config, checkpointing, on_event);
    }
    let mut run = Run::start(train, dev, &[], config, checkpointing, on_event)?;
    run.epochs(on_event)?;
    run.finish()
}
