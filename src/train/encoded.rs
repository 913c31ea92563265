//! A run's data as the network sees it: token ids and label indices, with the tokenizer and
//! the labels that made them.

use super::batching::fingerprint;
use super::checkpoint::Checkpoint;
use super::split::{label_indices, training_labels};
use super::{EmbeddingInit, TrainConfig};
use crate::data::Example;
use crate::error::{Error, Result};
use crate::tokenizer::{TextTokenizer, Truncation};
use std::path::Path;

/// Token ids and label indices of one set.
pub(super) struct Ids {
    pub ids: Vec<Vec<u32>>,
    pub y: Vec<u32>,
}

impl Ids {
    /// The tokens of every text, as read.
    pub fn tokens(&self) -> usize {
        self.ids.iter().map(Vec::len).sum()
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    fn new(
        set: &[Example],
        tokenizer: &TextTokenizer,
        labels: &[String],
        (max_len, side): (usize, Truncation),
    ) -> Result<Self> {
        let texts: Vec<&str> = set.iter().map(|e| e.text.as_str()).collect();
        Ok(Self {
            ids: tokenizer.encode_batch_truncated(&texts, max_len, side)?,
            y: label_indices(set, labels)?,
        })
    }
}

pub(super) struct Encoded {
    pub tokenizer: TextTokenizer,
    pub labels: Vec<String>,
    pub train: Ids,
    pub dev: Ids,
    /// Of the examples (not the ids), so that a resume on other data is refused.
    pub fingerprint: u64,
}

impl Encoded {
    /// Encodes `train` and `dev` with a tokenizer built from `train`, or the `given` one (a
    /// pretrained encoder's), or the resumed checkpoint's (whose data must be the same).
    pub fn new(
        train: &[Example],
        dev: &[Example],
        config: &TrainConfig,
        resumed: Option<(&Checkpoint, &Path)>,
        given: Option<&TextTokenizer>,
    ) -> Result<Self> {
        let fingerprint = fingerprint(&[train, dev]);
        let labels = training_labels(train)?;
        let tokenizer = match resumed {
            Some((checkpoint, origin)) => {
                if checkpoint.progress.fingerprint != fingerprint {
                    return Err(Error::model(
                        origin,
                        "the checkpoint was made on other training/dev data; resume with the same files",
                    ));
                }
                TextTokenizer::from_json(&checkpoint.progress.tokenizer_json, origin)?
            }
            None => match given {
                Some(tokenizer) => tokenizer.clone(),
                None => vocabulary(train, config)?,
            },
        };
        let cut = (config.max_length, config.truncation);
        Ok(Self {
            train: Ids::new(train, &tokenizer, &labels, cut)?,
            dev: Ids::new(dev, &tokenizer, &labels, cut)?,
            fingerprint,
            tokenizer,
            labels,
        })
    }

    /// Tokens in the longest training text.
    pub fn longest(&self) -> usize {
        self.train.ids.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// The vocabulary of the training texts, and with word2vec on an unlabelled file, the words of
/// that file they lack (as many as the config asks for), so that those words keep their
/// pretrained vectors rather than all reading as `[UNK]`.
fn vocabulary(train: &[Example], config: &TrainConfig) -> Result<TextTokenizer> {
    let tokenizer = TextTokenizer::build(train.iter().map(|e| e.text.as_str()), &config.tokenizer)?;
    match &config.embeddings {
        EmbeddingInit::Word2Vec {
            unlabeled: Some(path),
            unlabeled_words: extra @ 1..,
        } => {
            let texts = crate::data::read_lines(path)?;
            let texts = texts.iter().map(String::as_str);
            tokenizer.extended(texts, config.tokenizer.min_count, *extra)
        }
        _ => Ok(tokenizer),
    }
}
