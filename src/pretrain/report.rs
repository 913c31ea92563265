//! What a pretraining run reports: its events as it goes, and its outcome.

use super::config::PretrainConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What happened in one epoch of pretraining.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainEpoch {
    pub epoch: usize,
    /// The mean sampled-softmax loss per prediction over the epoch's steps.
    pub train_loss: f64,
    /// The held-out texts' mean negative log-likelihood per prediction under the exact
    /// softmax, and its exponential, the perplexity; absent without held-out texts.
    pub heldout_loss: Option<f64>,
    pub heldout_perplexity: Option<f64>,
    pub seconds: f64,
    pub tokens_per_second: f64,
    /// The learning rate of the epoch's last step.
    pub lr: f64,
}

/// Progress reports, in order: one `Started`, then `Step`s and an `Epoch` per epoch, with a
/// `Checkpoint` whenever one is written.
#[derive(Debug, Clone)]
pub enum PretrainEvent {
    Started {
        /// Where this run starts (above epoch 1, step 1 when resuming).
        first_epoch: usize,
        first_step: usize,
        texts: usize,
        heldout_texts: usize,
        windows: usize,
        /// Tokens in the training windows: what one epoch reads.
        tokens: usize,
        vocab_size: usize,
        steps_per_epoch: usize,
        parameters: usize,
    },
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        /// The mean loss per prediction over the epoch so far.
        loss: f64,
        /// Window tokens read per second since the epoch (or the resumed run) started.
        tokens_per_second: f64,
        lr: f64,
    },
    Epoch(PretrainEpoch),
    /// A checkpoint was written; a resumed run continues at `next_step` of `next_epoch`.
    Checkpoint {
        next_epoch: usize,
        next_step: usize,
        path: PathBuf,
    },
}

/// The outcome of a pretraining run, also recorded in config.json under `training`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretrainReport {
    pub config: PretrainConfig,
    pub texts: usize,
    pub heldout_texts: usize,
    pub windows: usize,
    pub tokens: usize,
    pub epochs: Vec<PretrainEpoch>,
    pub seconds: f64,
    /// True when the callback asked to stop before the end; the weights are those of the
    /// last step, and the checkpoint (when there is a checkpoint directory) continues from it.
    pub interrupted: bool,
}
