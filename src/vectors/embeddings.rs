//! The [`Embeddings`] table: words, one vector each, and lookups by word or row. Reading and
//! writing the files it is stored in is the business of the format modules.

use crate::error::{Error, Result};
use std::collections::HashMap;

/// Words with one vector each, stored row-major in one array. Every word is distinct, and every
/// vector read from a file is finite (readers refuse the file otherwise, naming the word and
/// where it is).
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    words: Vec<String>,
    dim: usize,
    data: Vec<f32>,
    index: HashMap<String, usize>,
}

impl Embeddings {
    /// Builds a table from its words and their vectors, `data` holding `words.len() * dim` values.
    /// A word given twice is an error.
    pub fn new(words: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self> {
        let mut index = HashMap::with_capacity(words.len());
        for (i, word) in words.iter().enumerate() {
            if let Some(first) = index.insert(word.clone(), i) {
                return Err(Error::Config(format!(
                    "word `{word}` is given twice (rows {} and {}); a word may have only one vector",
                    first + 1,
                    i + 1
                )));
            }
        }
        Self::with_index(words, dim, data, index)
    }

    /// [`Embeddings::new`] for distinct words whose rows `index` already holds.
    pub(super) fn with_index(
        words: Vec<String>,
        dim: usize,
        data: Vec<f32>,
        index: HashMap<String, usize>,
    ) -> Result<Self> {
        if dim == 0 {
            return Err(Error::Config(
                "word vectors need at least one dimension".into(),
            ));
        }
        if Some(data.len()) != words.len().checked_mul(dim) {
            return Err(Error::Config(format!(
                "{} words of dimension {dim} need {} values, got {}",
                words.len(),
                words.len().saturating_mul(dim),
                data.len()
            )));
        }
        Ok(Self {
            words,
            dim,
            data,
            index,
        })
    }

    /// Number of rows (words).
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The words, in row order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// All vectors, row-major: row `i` is `data[i * dim..(i + 1) * dim]`.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The row of `word`.
    pub fn index_of(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }

    /// The vector of row `i`.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        self.data.get(i * self.dim..(i + 1) * self.dim)
    }

    /// The vector of `word`.
    pub fn vector(&self, word: &str) -> Option<&[f32]> {
        self.row(self.index_of(word)?)
    }

    /// Every word with its vector, in row order.
    pub(super) fn rows(&self) -> impl Iterator<Item = (&str, &[f32])> {
        let words = self.words.iter().map(String::as_str);
        words.zip(self.data.chunks_exact(self.dim))
    }

    /// Checks, before anything is written, that every word can be read back.
    pub(super) fn check_writable(&self) -> std::io::Result<()> {
        for (i, word) in self.words.iter().enumerate() {
            if word.is_empty() || word.bytes().any(|b| b.is_ascii_whitespace()) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("word {} ({word:?}) is empty or holds whitespace", i + 1),
                ));
            }
        }
        Ok(())
    }
}
