//! Between word vectors and a classifier: start its embedding table from a vector file, and
//! export a trained table as one.

use super::embeddings::Embeddings;
use crate::classifier::Classifier;
use crate::config::EMBEDDING_TENSOR;
use crate::error::{Error, Result};
use crate::tokenizer::{TextTokenizer, PAD_ID, UNK_ID};
use candle_core::DType;

/// How much of a vocabulary a vector file covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// Vocabulary words (the special tokens not counted) whose row came from the file.
    pub matched: usize,
    /// Vocabulary words, the special tokens not counted.
    pub words: usize,
}

impl Coverage {
    /// `matched / words`, 0 for an empty vocabulary.
    pub fn fraction(&self) -> f64 {
        if self.words == 0 {
            0.0
        } else {
            self.matched as f64 / self.words as f64
        }
    }
}

/// Overwrites the rows of `table` (vocab_size x dim, row-major, one row per id of `tokenizer`)
/// whose word the vector file has, and sets the [PAD] row to zero; every other row keeps the
/// caller's initial values (e.g. random ones from the model's usual initialization).
///
/// Words are matched the way the tokenizer sees text: each file word goes through the
/// tokenizer's normalization and pre-tokenization, and counts if that gives exactly one token
/// that is in the vocabulary. Where several file words give the same token ("Good", "good"), an
/// exact spelling wins, then the earliest in the file (files list frequent words first). A
/// literal `[UNK]` row, as in files written by `export-embeddings`, fills [UNK].
///
/// Fails when the dimensions disagree or `table` is not vocab_size x dim.
pub fn embedding_init(
    tokenizer: &TextTokenizer,
    vectors: &Embeddings,
    table: &mut [f32],
) -> Result<Coverage> {
    let dim = vectors.dim();
    let vocab_size = tokenizer.vocab_size();
    if Some(table.len()) != vocab_size.checked_mul(dim) {
        return Err(Error::Config(format!(
            "the vectors have dimension {dim}: an embedding table for {vocab_size} ids needs \
             {} values, got {} (is --embedding-dim {dim}?)",
            vocab_size.saturating_mul(dim),
            table.len()
        )));
    }
    // Per id: the file row chosen so far, and whether it was an exact spelling.
    let mut source: Vec<Option<(usize, bool)>> = vec![None; vocab_size];
    let cased = !tokenizer.lowercase();
    for (row, word) in vectors.words().iter().enumerate() {
        // Normalizing and splitting leaves plain ASCII letters alone (lowercase ones, or any
        // when the tokenizer is cased), which spares the pipeline for most of a large file.
        let plain = word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (cased && b.is_ascii_uppercase()));
        let token = if plain {
            Some(word.clone())
        } else {
            let mut tokens = tokenizer.tokens(word)?;
            let single = tokens.len() == 1;
            tokens.pop().filter(|_| single)
        };
        let exact = tokenizer.token_to_id(word);
        let Some(id) = exact.or_else(|| token.and_then(|t| tokenizer.token_to_id(&t))) else {
            continue;
        };
        let slot = &mut source[id as usize];
        match slot {
            Some((_, true)) => {}
            Some((_, false)) if exact.is_none() => {}
            _ => *slot = Some((row, exact.is_some())),
        }
    }

    let mut matched = 0;
    for (id, slot) in source.iter().enumerate() {
        let Some((row, _)) = *slot else { continue };
        if id == PAD_ID as usize {
            continue;
        }
        if let Some(vector) = vectors.row(row) {
            table[id * dim..(id + 1) * dim].copy_from_slice(vector);
            matched += usize::from(id != UNK_ID as usize);
        }
    }
    let pad = PAD_ID as usize * dim;
    table[pad..pad + dim].fill(0.0);
    Ok(Coverage {
        matched,
        words: vocab_size.saturating_sub(2),
    })
}

/// A classifier's embedding table as word vectors: row `i` is token id `i`, named by the
/// tokenizer ([PAD] and [UNK] included, so ids survive a round trip through a file).
pub fn classifier_embeddings(classifier: &Classifier) -> Result<Embeddings> {
    let weight = classifier
        .weights()
        .get(EMBEDDING_TENSOR)
        .ok_or_else(|| Error::Config(format!("the model has no tensor {EMBEDDING_TENSOR}")))?;
    let (rows, dim) = weight.dims2()?;
    let data = weight
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let tokenizer = classifier.tokenizer();
    let words = (0..rows)
        .map(|id| {
            u32::try_from(id)
                .ok()
                .and_then(|id| tokenizer.id_to_token(id))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "{EMBEDDING_TENSOR} has {rows} rows, the tokenizer has no token {id}"
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Embeddings::new(words, dim, data)
}
