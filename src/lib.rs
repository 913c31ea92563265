//! lstm-sentiment: text classification with recurrent encoders on candle.
//!
//! The pipeline, one module per stage:
//! text -> [`tokenizer`] -> token ids -> [`embedding`] -> [`encoder`] (lstm, gru or rnn) ->
//! final hidden state (or a [`Pooling`] of every step's) -> [`head`] (the projection "V") ->
//! logits -> softmax.
//!
//! ```
//! use lstm_sentiment::Classifier;
//! let classifier = Classifier::builtin()?;
//! let p = classifier.predict("The food was cold and the staff were rude.")?;
//! assert_eq!(p.label, "negative");
//! # Ok::<(), lstm_sentiment::Error>(())
//! ```

mod builtin;
pub mod calibration;
pub mod classifier;
pub mod config;
pub mod data;
pub mod device;
mod dropout;
pub mod embedding;
pub mod encoder;
pub mod ensemble;
pub mod error;
pub mod explain;
mod file_set;
mod fsutil;
pub mod head;
pub mod hub;
#[doc(hidden)]
pub mod kernel;
mod malloc;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod model_card;
pub mod model_dir;
pub mod ngram;
mod optim;
pub mod pretrain;
pub mod report;
#[cfg(feature = "serve")]
pub mod serve;
pub mod threads;
pub mod tokenizer;
pub mod train;
pub mod vectors;
mod widen;
pub mod word2vec;

pub use classifier::{Classifier, Prediction, DEFAULT_WORD_CACHE};
pub use config::{Cell, ModelConfig, Pooling, Truncation, WeightDtype};
pub use data::{read_examples, Example, Format, ReadOptions};
pub use device::DeviceSpec;
pub use ensemble::Ensemble;
pub use error::{Error, Result};
pub use explain::{Explanation, TokenContribution};
pub use fsutil::write_output_file;
pub use malloc::keep_freed_memory;
pub use metrics::{ConfusionMatrix, Evaluation};
pub use tokenizer::TokenizerConfig;
pub use train::{train, EmbeddingInit, TrainConfig, TrainEvent, TrainReport};

/// README.md's and docs/library.md's Rust examples, run as doctests
/// (tests/integration/readme.rs runs the README's command-line examples).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../docs/library.md")]
pub struct DocumentationExamples;
