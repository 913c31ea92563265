//! Pretraining the encoder on unlabelled text, so that a classifier starts from an embedding
//! and an encoder that already read the domain (Dai & Le 2015; Howard & Ruder 2018).
//!
//! Texts are tokenized whole and cut into consecutive windows of `max_length` tokens
//! (`windows`); each optimizer step trains on a batch of windows with one of two objectives
//! (`objective`): a language model or a sequence autoencoder, both predicting words through a
//! sampled softmax tied to the word vectors (`sampled`). The recurrence runs through the same
//! fused kernel as classifier training, the embedding table through the same row-sparse AdamW,
//! and checkpoints and resume use the same machinery (`crate::train`). The result is a
//! directory (`pretrained`) whose `embedding.*` and `encoder.*` tensors a classifier starts
//! from (`train` with [`crate::train::EncoderInit::Pretrained`]).
//!
//! ```no_run
//! use lstm_sentiment::pretrain::{pretrain, PretrainConfig};
//! use lstm_sentiment::train::Checkpointing;
//! use std::ops::ControlFlow;
//!
//! let texts = std::fs::read_to_string("unlabeled.txt")?;
//! let texts: Vec<&str> = texts.lines().collect();
//! let (pretrained, report) = pretrain(&texts, &PretrainConfig::default(), &Checkpointing::default(),
//!     &mut |_event| ControlFlow::Continue(()))?;
//! pretrained.save(std::path::Path::new("encoder"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod objective;
mod pretrained;
mod run;
mod sampled;
mod score;
mod windows;

pub use config::{Objective, PretrainConfig, MAX_HELDOUT_TEXTS};
pub use objective::names;
pub use pretrained::{Pretrained, PretrainedConfig, PRETRAINED_FORMAT_VERSION, PRETRAINED_KIND};
pub use score::TextScore;

use crate::error::Result;
use crate::train::Checkpointing;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
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

/// Pretrains an encoder on `texts` (one document each). The callback sees every event and may
/// return `ControlFlow::Break` to stop after the current step: a checkpoint is then written
/// (with a checkpoint directory) and the weights as they are come back. A resumed run ends with
/// the same weights as an uninterrupted one.
pub fn pretrain<S: AsRef<str>>(
    texts: &[S],
    config: &PretrainConfig,
    checkpointing: &Checkpointing,
    on_event: &mut dyn FnMut(&PretrainEvent) -> ControlFlow<()>,
) -> Result<(Pretrained, PretrainReport)> {
    let mut run = run::Run::start(texts, config, checkpointing)?;
    run.epochs(on_event)?;
    run.finish()
}
