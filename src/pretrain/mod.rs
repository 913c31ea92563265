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
mod report;
mod run;
mod sampled;
mod score;
mod windows;

pub use config::{Objective, PretrainConfig, MAX_HELDOUT_TEXTS};
pub use objective::names;
pub(crate) use pretrained::Files as PretrainedFiles;
pub use pretrained::{Pretrained, PretrainedConfig, PRETRAINED_FORMAT_VERSION, PRETRAINED_KIND};
pub use report::{PretrainEpoch, PretrainEvent, PretrainReport};
pub use score::TextScore;

use crate::error::Result;
use crate::train::Checkpointing;
use std::ops::ControlFlow;

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
