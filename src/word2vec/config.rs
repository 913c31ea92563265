//! What a word2vec run is asked to do, and what it reports while it runs.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which word predicts which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Each word predicts its neighbours: slower, better for rare words.
    SkipGram,
    /// The mean of the neighbours predicts the word: faster.
    Cbow,
}

/// Every hyperparameter of a run. Defaults are word2vec.c's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Word2VecConfig {
    pub architecture: Architecture,
    pub dim: usize,
    /// Largest distance between a word and a context word; each position draws its own
    /// window from 1..=window, which weights near words more.
    pub window: usize,
    /// Words seen fewer times are dropped before training.
    pub min_count: u64,
    /// Negative samples per prediction (0: none; then `hierarchical_softmax` must be on).
    pub negative: usize,
    /// Hierarchical softmax over a Huffman tree of the vocabulary.
    pub hierarchical_softmax: bool,
    /// Sub-sampling threshold: words more frequent than this fraction of the corpus are
    /// randomly skipped (0: keep all).
    pub sample: f64,
    /// Starting learning rate; `None`: 0.025 for skip-gram, 0.05 for CBOW.
    pub lr: Option<f32>,
    /// The learning rate falls linearly to this by the end of the last epoch.
    pub min_lr: f32,
    pub epochs: usize,
    pub threads: usize,
    pub seed: u64,
    /// Lowercase text before splitting it into words, as the classifier's tokenizer does.
    pub lowercase: bool,
}

impl Default for Word2VecConfig {
    fn default() -> Self {
        Self {
            architecture: Architecture::Cbow,
            dim: 100,
            window: 5,
            min_count: 5,
            negative: 5,
            hierarchical_softmax: false,
            sample: 1e-3,
            lr: None,
            min_lr: 1e-4,
            epochs: 5,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            seed: 1,
            lowercase: true,
        }
    }
}

impl Word2VecConfig {
    /// The starting learning rate, the architecture's default unless set.
    pub fn start_lr(&self) -> f32 {
        self.lr.unwrap_or(match self.architecture {
            Architecture::SkipGram => 0.025,
            Architecture::Cbow => 0.05,
        })
    }

    pub fn validate(&self) -> Result<()> {
        let fail = |message: &str| Err(Error::Config(message.to_string()));
        let lr = self.start_lr();
        if self.dim == 0 || self.window == 0 || self.epochs == 0 || self.threads == 0 {
            fail("dim, window, epochs and threads must be at least 1")
        } else if self.negative == 0 && !self.hierarchical_softmax {
            fail("negative sampling (negative > 0) or hierarchical softmax is needed")
        } else if !(lr.is_finite() && lr > 0.0 && self.min_lr.is_finite() && self.min_lr >= 0.0) {
            fail("the learning rates must be finite, lr > 0 and min_lr >= 0")
        } else if !(self.sample.is_finite() && self.sample >= 0.0) {
            fail("sample must be a finite number >= 0")
        } else {
            Ok(())
        }
    }
}

/// Progress reports: one `Vocabulary`, then `Progress` about every 100 ms and once at the end.
#[derive(Debug, Clone, PartialEq)]
pub enum Word2VecEvent {
    /// The corpus is tokenized and counted; training starts.
    Vocabulary {
        /// Words kept (seen at least `min_count` times).
        words: usize,
        /// Running words of the kept vocabulary in the corpus, per epoch.
        tokens: u64,
    },
    Progress {
        /// Share of the run done, 0 to 1.
        fraction: f64,
        /// Corpus words processed per second (before sub-sampling), all threads together.
        words_per_second: f64,
        /// The learning rate now.
        lr: f32,
        /// 1-based epoch, judged by the words done by all threads together.
        epoch: usize,
    },
}
