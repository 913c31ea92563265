//! word2vec: word vectors from unlabelled text, as Mikolov et al.'s word2vec.c trains them.
//!
//! Skip-gram or CBOW, with negative sampling and/or hierarchical softmax, the random window
//! shrink, sub-sampling of frequent words and a learning rate that falls linearly over the run.
//! Threads update the shared weights without locks, as word2vec.c and gensim do (see
//! `hogwild.rs`); with one thread a seed fixes the result exactly.
//!
//! Text goes through the classifier's own tokenizer pipeline ([`TextTokenizer::tokens`]), so the
//! vectors' words are spelled the way a classifier's vocabulary is.
//!
//! ```
//! use lstm_sentiment::word2vec::{train, Word2VecConfig};
//! use std::ops::ControlFlow;
//!
//! let texts = ["the cat sat on the mat", "the dog sat on the log"];
//! let config = Word2VecConfig { dim: 8, min_count: 1, epochs: 2, threads: 1, ..Default::default() };
//! let vectors = train(&texts, &config, |_event| ControlFlow::Continue(()))?;
//! assert_eq!(vectors.words()[0], "the");
//! assert_eq!(vectors.dim(), 8);
//! # Ok::<(), lstm_sentiment::Error>(())
//! ```

mod config;
mod hogwild;
mod huffman;
pub(crate) mod sampling;
mod train;
mod vocab;

pub use config::{Architecture, Word2VecConfig, Word2VecEvent};

use crate::error::{Error, Result};
use crate::tokenizer::{TextTokenizer, TokenizerConfig};
use crate::vectors::Embeddings;
use std::ops::ControlFlow;

/// Trains word vectors on `texts` (each a sentence or document; windows do not cross texts).
/// Rows come in vocabulary order: count descending, then word. The callback sees every event
/// and may return `ControlFlow::Break` to stop, which gives [`Error::Cancelled`].
pub fn train<S: AsRef<str> + Sync>(
    texts: &[S],
    config: &Word2VecConfig,
    mut on_event: impl FnMut(&Word2VecEvent) -> ControlFlow<()>,
) -> Result<Embeddings> {
    config.validate()?;
    let tokenizer = TextTokenizer::build(
        [],
        &TokenizerConfig {
            lowercase: config.lowercase,
            ..TokenizerConfig::default()
        },
    )?;
    let corpus = vocab::Corpus::build(texts, &tokenizer, config.min_count, config.threads)?;
    if corpus.words.is_empty() {
        return Err(Error::Config(format!(
            "no word occurs at least {} times (min_count) in the corpus",
            config.min_count
        )));
    }
    let event = Word2VecEvent::Vocabulary {
        words: corpus.words.len(),
        tokens: corpus.ids.len() as u64,
    };
    if on_event(&event).is_break() {
        return Err(Error::Cancelled);
    }
    let data = train::run(&corpus, config, &mut on_event)?;
    Embeddings::new(corpus.words, config.dim, data)
}
