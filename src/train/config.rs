//! Every hyperparameter of a run, its default and the bounds a run checks before its first step.

use super::schedule::LrSchedule;
use crate::config::{is_default, Cell, Pooling, Truncation};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::tokenizer::TokenizerConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The largest learning rate a run accepts. AdamW moves every weight by about `lr` per step;
/// far below this bound a run already diverges.
pub const MAX_LR: f64 = 10.0;

/// The most epochs a run from fresh weights runs unless told.
pub const EPOCHS: usize = 8;

/// The most epochs a run from the built-in Chinese encoder runs unless told. Starting from an
/// encoder that already reads Chinese, it keeps an early epoch: on the Chinese sets five score
/// as eight do on the test files, in two thirds of the time (docs/training.md).
pub const BUILTIN_ENCODER_EPOCHS: usize = 5;

/// The most tokens (as read, after truncation) that training data may hold and still train
/// as a small set when the data decide: above it an epoch takes minutes, and a run averages
/// its weights ([`LARGE_EMA`]), runs at most [`LARGE_EPOCHS`] and trains without adversarial
/// moves ([`super::auto_adversarial`]). IMDB's 25,000 reviews hold about 6 million.
pub const LARGE_TOKENS: usize = 3_000_000;

/// The average's decay on large training data ([`super::auto_ema`]).
pub const LARGE_EMA: f64 = 0.99;

/// The most epochs a run on large training data runs with its weights averaged
/// ([`super::auto_epochs`]): on IMDB the average kept the second, third or fourth epoch.
pub const LARGE_EPOCHS: usize = 4;

/// The longest adversarial move a run accepts, in word vectors' lengths: further, the moved
/// text is no longer the text.
pub const MAX_ADVERSARIAL: f64 = 10.0;

/// Every hyperparameter of a run. The defaults suit sentence-level sentiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    pub cell: Cell,
    pub embedding_dim: usize,
    /// Rows of the hashed bigram table whose vectors add to the word vectors (0: none); see
    /// [`crate::ngram`]. `None` lets the training texts decide
    /// ([`crate::ngram::long_or_ideographic`]: a table of [`crate::ngram::AUTO_BUCKETS`] for
    /// Chinese and Japanese, where the tokenizer splits characters, and for long texts; none
    /// for sentences of words); a run stores the number it chose. A stored config without the
    /// field had none.
    #[serde(default = "no_buckets", skip_serializing_if = "is_no_buckets")]
    pub ngram_buckets: Option<usize>,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub bidirectional: bool,
    /// What the head reads of the last layer's hidden states. A stored config without the
    /// field read the final state (the model format's default, not this struct's).
    #[serde(default, skip_serializing_if = "is_default")]
    pub pooling: Pooling,
    /// Dropout between layers and before the head, and on word vectors unless
    /// `embedding_dropout` is set.
    pub dropout: f32,
    /// Dropout on the elements of word vectors; `None` uses `dropout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_dropout: Option<f32>,
    /// Word dropout: in training, each token of a text becomes `[UNK]` with this probability.
    /// Prediction never drops words.
    pub word_dropout: f32,
    /// Adversarial training: each step also trains on its texts with their word vectors moved
    /// this far (in word vectors' lengths, per text) in the direction that raises the loss
    /// fastest; 0: off. `None` lets the training data decide ([`super::auto_adversarial`]: on
    /// unless they are large, further for Chinese or long texts); a run stores the number it
    /// chose. A stored config without the field trained without.
    #[serde(default = "off", skip_serializing_if = "is_off")]
    pub adversarial: Option<f64>,
    /// Upper bound on epochs; early stopping may end sooner. `None` lets the start decide
    /// ([`super::auto_epochs`]: [`EPOCHS`], [`BUILTIN_ENCODER_EPOCHS`] from the built-in
    /// Chinese encoder, [`LARGE_EPOCHS`] on large data with the weights averaged); a run
    /// stores the number it chose.
    pub epochs: Option<usize>,
    pub batch_size: usize,
    /// AdamW learning rate, in (0, [`MAX_LR`]]: the peak rate of the schedule.
    pub lr: f64,
    /// How the learning rate moves over the planned steps (epochs x steps per epoch).
    pub lr_schedule: LrSchedule,
    /// The fraction of the planned steps over which the rate climbs linearly from 0 to `lr`,
    /// in [0, 1).
    pub warmup: f64,
    /// The embedding table learns at `lr` times this; the rest of the network at `lr`.
    pub embedding_lr_scale: f64,
    /// AdamW's decoupled weight decay: each step multiplies the weights by
    /// `1 - lr * weight_decay`, so `lr * weight_decay` must be at most 1.
    pub weight_decay: f64,
    /// Gradients are rescaled when their global L2 norm exceeds this (0 turns clipping off).
    pub clip_norm: f64,
    /// Texts are truncated to this many tokens, in training and later in prediction.
    pub max_length: usize,
    /// Which tokens a text longer than `max_length` keeps.
    #[serde(skip_serializing_if = "is_default")]
    pub truncation: Truncation,
    /// Stop after this many epochs without a better dev accuracy (0: never stop early).
    pub patience: usize,
    /// The decay of the moving average of the weights that each epoch is scored and kept by
    /// (see `average.rs`): after step t, `average = d * average + (1 - d) * weights`,
    /// `d = min(ema, (1 + t) / (10 + t))`. 0 scores and keeps the weights themselves. `None`
    /// lets the training data decide ([`super::auto_ema`]: [`LARGE_EMA`] on large data, else
    /// 0); a run stores the number it chose. A stored config without the field did not
    /// average.
    #[serde(default = "off")]
    pub ema: Option<f64>,
    /// Without a dev set, this fraction of each label's training examples is held out for it
    /// (never a label's last example). 0 holds out nothing: then every epoch runs and the last
    /// one is kept.
    pub dev_fraction: f64,
    pub seed: u64,
    pub tokenizer: TokenizerConfig,
    /// Where the word vectors start: random, a vector file, or word2vec trained first.
    pub embeddings: EmbeddingInit,
    /// Keep the word vectors as they start (useful with pretrained vectors).
    pub freeze_embeddings: bool,
    /// Where the embedding and the encoder start: fresh, or from a pretrained encoder (whose
    /// tokenizer the classifier then uses). The head always starts fresh. [`EncoderInit::Auto`]
    /// lets the training texts decide; a run stores what it chose. A stored config without the
    /// field started fresh.
    #[serde(default, skip_serializing_if = "is_default")]
    pub encoder: EncoderInit,
    /// The encoder's recurrent weights learn at `lr` times this (the head at `lr`, the word
    /// vectors at `lr` times `embedding_lr_scale`).
    #[serde(skip_serializing_if = "is_one")]
    pub encoder_lr_scale: f64,
    /// ULMFiT's gradual unfreezing: the first epoch trains the head alone, each later one
    /// also the next encoder layer from the top, and the one after the lowest layer also the
    /// word vectors.
    #[serde(skip_serializing_if = "is_default")]
    pub gradual_unfreezing: bool,
    /// Self-training: a teacher trained with this config labels unlabelled texts, and the
    /// model kept is a student trained the same way on the training data plus the texts the
    /// teacher was surest of (see `self_train.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_train: Option<SelfTrain>,
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
    /// unlabelled text (one text per line). `unlabeled_words` more words of that file, those the
    /// training texts lack, join the vocabulary with their pretrained vectors.
    Word2Vec {
        unlabeled: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "is_zero")]
        unlabeled_words: usize,
    },
}

/// What self-training reads and how much of it the student trains on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfTrain {
    /// Unlabelled texts, one per line.
    pub unlabeled: PathBuf,
    /// The share of the texts predicted as the rarest predicted label that is kept, the most
    /// confident first; every other label keeps as many of its own, so the added rows are
    /// balanced. In (0, 1].
    pub keep: f64,
}

/// The share of pseudo-labelled texts a run keeps unless told otherwise.
pub const SELF_TRAIN_KEEP: f64 = 0.6;

/// How the embedding table and the encoder start.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderInit {
    /// Fresh weights (the embedding as [`EmbeddingInit`] says).
    #[default]
    Random,
    /// From a pretrained encoder directory (`lstm-sentiment pretrain`): its tokenizer,
    /// embedding and encoder. Its sizes must be the run's.
    Pretrained { dir: PathBuf },
    /// From the Chinese encoder compiled into the crate, as from a directory.
    BuiltinChinese,
    /// The built-in Chinese encoder where it fits, else fresh: for training texts that are
    /// mostly Chinese, with the encoder's shape (an LSTM, both directions, one layer, 128 and
    /// 128), the default tokenizer settings and no other start for the word vectors, when its
    /// vocabulary holds nearly all of the texts' tokens ([`super::AUTO_ENCODER_COVERAGE`]).
    Auto,
    /// A language model pretrained first, for `epochs` epochs, on the training texts plus,
    /// optionally, a file of unlabelled text (one text per line).
    PretrainLm {
        unlabeled: Option<PathBuf>,
        epochs: usize,
    },
}

fn no_buckets() -> Option<usize> {
    Some(0)
}

fn is_no_buckets(buckets: &Option<usize>) -> bool {
    *buckets == Some(0)
}

/// What a stored config without `adversarial` or `ema` trained with: neither.
fn off() -> Option<f64> {
    Some(0.0)
}

fn is_off(x: &Option<f64>) -> bool {
    *x == Some(0.0)
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            cell: Cell::Lstm,
            embedding_dim: 128,
            ngram_buckets: None,
            hidden_size: 128,
            num_layers: 1,
            bidirectional: true,
            pooling: Pooling::Max,
            dropout: 0.3,
            embedding_dropout: None,
            word_dropout: 0.0,
            adversarial: None,
            epochs: None,
            batch_size: 64,
            lr: 2e-3,
            lr_schedule: LrSchedule::Constant,
            warmup: 0.0,
            embedding_lr_scale: 1.0,
            weight_decay: 0.0,
            clip_norm: 5.0,
            max_length: 512,
            truncation: Truncation::Head,
            patience: 3,
            ema: None,
            dev_fraction: 0.1,
            seed: 42,
            tokenizer: TokenizerConfig::default(),
            embeddings: EmbeddingInit::Random,
            freeze_embeddings: false,
            encoder: EncoderInit::Auto,
            encoder_lr_scale: 1.0,
            gradual_unfreezing: false,
            self_train: None,
            device: DeviceSpec::Cpu,
        }
    }
}

impl TrainConfig {
    /// The bound on epochs: `epochs`, which a run settles before its first step, or [`EPOCHS`]
    /// where nothing has settled it.
    pub fn max_epochs(&self) -> usize {
        self.epochs.unwrap_or(EPOCHS)
    }

    /// Refuses hyperparameters no run can train with: zero sizes, NaN or infinite numbers, and
    /// numbers far outside their sane range. Sizes that depend on the data (vocabulary, labels)
    /// are checked when the run starts.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        if self.epochs == Some(0) || self.batch_size == 0 {
            return fail("epochs and batch size must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return fail(format!("dropout must be in [0, 1), found {}", self.dropout));
        }
        if !(self.lr > 0.0 && self.lr <= MAX_LR) {
            return fail(format!(
                "learning rate must be in (0, {MAX_LR}], found {}",
                number(self.lr)
            ));
        }
        if !(self.weight_decay >= 0.0 && self.lr * self.weight_decay <= 1.0) {
            return fail(format!(
                "weight decay must be at least 0 and at most 1 / learning rate ({}), found {} \
                 (each step multiplies the weights by 1 - learning rate x weight decay)",
                number(1.0 / self.lr),
                number(self.weight_decay)
            ));
        }
        if !(self.clip_norm >= 0.0 && self.clip_norm.is_finite()) {
            return fail(format!(
                "clip norm must be a finite number, at least 0 (0: no clipping), found {}",
                number(self.clip_norm)
            ));
        }
        if let Some(buckets) = self
            .ngram_buckets
            .filter(|&k| k > crate::ngram::MAX_BUCKETS)
        {
            return fail(format!(
                "n-gram buckets must be at most {} (0: none), found {buckets}",
                crate::ngram::MAX_BUCKETS,
            ));
        }
        if let Some(keep) = self.self_train.as_ref().map(|s| s.keep) {
            if !(keep > 0.0 && keep <= 1.0) {
                return fail(format!(
                    "the share of pseudo-labelled texts to keep must be in (0, 1], found {}",
                    number(keep)
                ));
            }
        }
        if let Some(ema) = self.ema.filter(|d| !(0.0..1.0).contains(d)) {
            return fail(format!(
                "the average's decay (--ema) must be in [0, 1) (0: no average), found {}",
                number(ema)
            ));
        }
        if !(0.0..1.0).contains(&self.dev_fraction) {
            return fail(format!(
                "dev fraction must be in [0, 1), found {}",
                number(self.dev_fraction)
            ));
        }
        self.validate_regularization()?;
        self.validate_rates()?;
        self.validate_start()
    }

    /// The starting point: one source for the word vectors, a sane encoder learning rate.
    fn validate_start(&self) -> Result<()> {
        let pretrained = !matches!(self.encoder, EncoderInit::Random | EncoderInit::Auto);
        if pretrained && self.embeddings != EmbeddingInit::Random {
            return Err(Error::Config(
                "a pretrained encoder brings its own word vectors; it cannot also start from \
                 word vectors (a vector file or word2vec)"
                    .into(),
            ));
        }
        if let EmbeddingInit::Word2Vec {
            unlabeled: None,
            unlabeled_words: 1..,
        } = self.embeddings
        {
            return Err(Error::Config(
                "words of the unlabelled text need an unlabelled text file".into(),
            ));
        }
        if let EncoderInit::PretrainLm { epochs: 0, .. } = self.encoder {
            return Err(Error::Config(
                "language-model pretraining needs at least 1 epoch".into(),
            ));
        }
        let scale = self.encoder_lr_scale;
        if !(scale > 0.0 && self.lr * scale <= MAX_LR) {
            return Err(Error::Config(format!(
                "encoder learning-rate scale must be above 0 and at most {} (the encoder's \
                 learning rate, learning rate x scale, at most {MAX_LR}), found {}",
                number(MAX_LR / self.lr),
                number(scale)
            )));
        }
        Ok(())
    }

    /// The dropout rate on word vectors.
    pub fn embedding_dropout_rate(&self) -> f32 {
        self.embedding_dropout.unwrap_or(self.dropout)
    }

    fn validate_regularization(&self) -> Result<()> {
        let rates = [
            ("embedding dropout", self.embedding_dropout_rate()),
            ("word dropout", self.word_dropout),
        ];
        for (what, p) in rates {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::Config(format!(
                    "{what} must be in [0, 1), found {p}"
                )));
            }
        }
        if let Some(x) = self.adversarial {
            if !(0.0..=MAX_ADVERSARIAL).contains(&x) {
                return Err(Error::Config(format!(
                    "the adversarial move (--adversarial) must be in [0, {MAX_ADVERSARIAL}] \
                     word vectors (0: off), found {}",
                    number(x)
                )));
            }
        }
        Ok(())
    }

    /// The schedule's warmup and the embedding table's learning rate.
    fn validate_rates(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        if !(0.0..1.0).contains(&self.warmup) {
            return fail(format!(
                "warmup must be a fraction of the steps in [0, 1), found {}",
                number(self.warmup)
            ));
        }
        let scale = self.embedding_lr_scale;
        let embedding_lr = self.lr * scale;
        if !(scale > 0.0 && embedding_lr <= MAX_LR) {
            return fail(format!(
                "embedding learning-rate scale must be above 0 and at most {} (the embedding \
                 learning rate, learning rate x scale, at most {MAX_LR}), found {}",
                number(MAX_LR / self.lr),
                number(scale)
            ));
        }
        if embedding_lr * self.weight_decay > 1.0 {
            return fail(format!(
                "weight decay must be at most 1 / embedding learning rate ({}), found {} \
                 (each step multiplies the word vectors by 1 - embedding learning rate x weight \
                 decay)",
                number(1.0 / embedding_lr),
                number(self.weight_decay)
            ));
        }
        Ok(())
    }
}

/// A number as people write it: plain in a readable range, else in scientific notation.
fn number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || (1e-4..1e6).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        TrainConfig::default().validate().unwrap();
    }

    #[test]
    fn non_finite_and_absurd_numbers_are_refused() {
        let base = TrainConfig::default();
        let bad = [
            TrainConfig {
                lr: f64::NAN,
                ..base.clone()
            },
            TrainConfig {
                lr: 1e300,
                ..base.clone()
            },
            TrainConfig {
                lr: 0.0,
                ..base.clone()
            },
            TrainConfig {
                weight_decay: f64::NAN,
                ..base.clone()
            },
            TrainConfig {
                weight_decay: f64::INFINITY,
                ..base.clone()
            },
            TrainConfig {
                weight_decay: -0.1,
                ..base.clone()
            },
            TrainConfig {
                weight_decay: 1e30,
                ..base.clone()
            },
            TrainConfig {
                clip_norm: f64::NAN,
                ..base.clone()
            },
            TrainConfig {
                clip_norm: f64::INFINITY,
                ..base.clone()
            },
            TrainConfig {
                clip_norm: -1.0,
                ..base.clone()
            },
            TrainConfig {
                dropout: f32::NAN,
                ..base.clone()
            },
            TrainConfig {
                dev_fraction: f64::NAN,
                ..base.clone()
            },
            TrainConfig {
                epochs: Some(0),
                ..base.clone()
            },
            TrainConfig {
                ema: Some(1.0),
                ..base.clone()
            },
            TrainConfig {
                ema: Some(f64::NAN),
                ..base.clone()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
        let fine = TrainConfig {
            lr: MAX_LR,
            weight_decay: 0.1,
            clip_norm: 0.0,
            ..base
        };
        fine.validate().unwrap();
    }
}
