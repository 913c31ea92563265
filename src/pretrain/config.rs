//! Every hyperparameter of a pretraining run, its default and the bounds checked before the
//! first step.

use crate::config::{Cell, EncoderShape};
use crate::error::{Error, Result};
use crate::tokenizer::TokenizerConfig;
use crate::train::{LrSchedule, MAX_LR};
use serde::{Deserialize, Serialize};

/// What the encoder learns to do on unlabelled text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// A language model: each step's state predicts the next token; in a bidirectional encoder
    /// the backward direction's state predicts the previous one (as ELMo).
    #[default]
    Lm,
    /// A sequence autoencoder (Dai & Le's SA-LSTM): a decoder regenerates the text from the
    /// encoder's final state.
    Autoencoder,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Objective::Lm => "lm",
            Objective::Autoencoder => "autoencoder",
        }
    }
}

impl std::str::FromStr for Objective {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "lm" => Ok(Objective::Lm),
            "autoencoder" => Ok(Objective::Autoencoder),
            other => Err(Error::Config(format!(
                "unknown objective `{other}` (expected lm or autoencoder)"
            ))),
        }
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every hyperparameter of a pretraining run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PretrainConfig {
    pub objective: Objective,
    pub cell: Cell,
    pub embedding_dim: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub bidirectional: bool,
    /// Texts are cut into consecutive windows of at most this many tokens; each window is one
    /// sequence of a batch, so every token of a long text is used.
    pub max_length: usize,
    /// Windows per optimizer step.
    pub batch_size: usize,
    pub epochs: usize,
    /// AdamW's peak learning rate.
    pub lr: f64,
    pub lr_schedule: LrSchedule,
    /// The fraction of the planned steps over which the rate climbs from 0, in [0, 1).
    pub warmup: f64,
    /// Gradients are rescaled when their global L2 norm exceeds this (0: off).
    pub clip_norm: f64,
    /// Dropout on word vectors, between layers and before the output projection.
    pub dropout: f32,
    /// Words drawn per batch (from the unigram distribution raised to 0.75) that every
    /// prediction of the batch is scored against, besides its own target.
    pub samples: usize,
    /// The fraction of the texts held out to report perplexity (exact softmax), at most
    /// [`MAX_HELDOUT_TEXTS`] of them.
    pub heldout: f64,
    pub tokenizer: TokenizerConfig,
    pub seed: u64,
    /// Besides at the end of every epoch, a checkpoint is written every this many steps (0:
    /// only at epoch ends).
    pub checkpoint_steps: usize,
}

/// The most texts held out for perplexity: enough for a steady figure, few enough that the
/// exact softmax over the vocabulary stays a small part of an epoch.
pub const MAX_HELDOUT_TEXTS: usize = 500;

impl Default for PretrainConfig {
    fn default() -> Self {
        Self {
            objective: Objective::Lm,
            cell: Cell::Lstm,
            embedding_dim: 128,
            hidden_size: 128,
            num_layers: 1,
            bidirectional: false,
            max_length: 128,
            batch_size: 64,
            epochs: 1,
            lr: 2e-3,
            lr_schedule: LrSchedule::Linear,
            warmup: 0.02,
            clip_norm: 1.0,
            dropout: 0.1,
            samples: 1024,
            heldout: 0.01,
            tokenizer: TokenizerConfig {
                max_vocab: 30_000,
                min_count: 2,
                ..TokenizerConfig::default()
            },
            seed: 42,
            checkpoint_steps: 500,
        }
    }
}

impl PretrainConfig {
    /// The embedding and encoder this run trains, over a vocabulary of `vocab_size`.
    pub fn shape(&self, vocab_size: usize) -> EncoderShape {
        EncoderShape {
            cell: self.cell,
            vocab_size,
            embedding_dim: self.embedding_dim,
            hidden_size: self.hidden_size,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
        }
    }

    /// Refuses settings no run can train with.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        if self.embedding_dim == 0 || self.hidden_size == 0 || self.num_layers == 0 {
            return fail("embedding dim, hidden size and layers must be at least 1".into());
        }
        if self.epochs == 0 || self.batch_size == 0 || self.samples == 0 {
            return fail("epochs, batch size and samples must be at least 1".into());
        }
        if self.max_length < 2 {
            return fail(format!(
                "max length must be at least 2 (a window needs a token to predict from and one \
                 to predict), found {}",
                self.max_length
            ));
        }
        if self.objective == Objective::Lm && self.bidirectional && self.num_layers > 1 {
            return fail(format!(
                "a bidirectional language model has one layer: from the second layer on, each \
                 direction reads the other's states, which have seen the very words it must \
                 predict (found {} layers; use --objective autoencoder, or one layer)",
                self.num_layers
            ));
        }
        if !(self.lr > 0.0 && self.lr <= MAX_LR) {
            return fail(format!(
                "learning rate must be in (0, {MAX_LR}], found {}",
                self.lr
            ));
        }
        if !(0.0..1.0).contains(&self.warmup) {
            return fail(format!("warmup must be in [0, 1), found {}", self.warmup));
        }
        if !(self.clip_norm >= 0.0 && self.clip_norm.is_finite()) {
            return fail(format!(
                "clip norm must be a finite number, at least 0, found {}",
                self.clip_norm
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return fail(format!("dropout must be in [0, 1), found {}", self.dropout));
        }
        if !(0.0..1.0).contains(&self.heldout) {
            return fail(format!(
                "the held-out fraction must be in [0, 1), found {}",
                self.heldout
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        PretrainConfig::default().validate().unwrap();
    }

    #[test]
    fn a_stacked_bidirectional_language_model_is_refused() {
        let config = PretrainConfig {
            bidirectional: true,
            num_layers: 2,
            ..PretrainConfig::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("one layer") && err.contains("2 layers"),
            "{err}"
        );
        let autoencoder = PretrainConfig {
            objective: Objective::Autoencoder,
            ..config
        };
        autoencoder.validate().unwrap();
    }
}
