//! The rows of a vector file as a reader collects them, checked as they come: every value finite,
//! every word new.
//!
//! A repeated word is an error, since a table that holds a word twice answers queries with it
//! twice. With [`Utf8::Lossy`], where distinct byte strings can decode to the same word, the
//! first row of such a word is kept and later ones are dropped, as gensim does for every file.

use super::embeddings::Embeddings;
use super::utf8::Utf8;
use crate::error::Result;
use std::collections::HashMap;

/// At most this many words and values are reserved from a header's promise, so that a corrupt
/// header cannot make the reader allocate more than the file could hold.
const RESERVE_WORDS: usize = 1 << 20;
const RESERVE_VALUES: usize = 1 << 26;

pub(super) struct Rows {
    words: Vec<String>,
    data: Vec<f32>,
    /// Each word's row.
    index: HashMap<String, usize>,
    /// Where each row was read, in the reader's unit (line, or vector number).
    places: Vec<usize>,
    /// How places are named in messages: "line" or "vector".
    unit: &'static str,
    utf8: Utf8,
}

impl Rows {
    /// Room for `count` rows of `dim` values, within the reservation limits.
    pub(super) fn new(count: usize, dim: usize, unit: &'static str, utf8: Utf8) -> Self {
        let words = count.min(RESERVE_WORDS);
        Rows {
            words: Vec::with_capacity(words),
            data: Vec::with_capacity(count.saturating_mul(dim).min(RESERVE_VALUES)),
            index: HashMap::with_capacity(words),
            places: Vec::with_capacity(words),
            unit,
            utf8,
        }
    }

    /// Adds `word` with `values`, read at `place`; `Err` says what is wrong with the row.
    pub(super) fn push(
        &mut self,
        word: String,
        values: &[f32],
        place: usize,
    ) -> std::result::Result<(), String> {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "value {} of `{word}` is {}: vectors must hold finite float32 numbers",
                i + 1,
                values[i]
            ));
        }
        if let Some(&row) = self.index.get(&word) {
            return match self.utf8 {
                Utf8::Lossy => Ok(()),
                Utf8::Strict => Err(format!(
                    "`{word}` repeats the word of {} {}; a word may have only one vector",
                    self.unit, self.places[row]
                )),
            };
        }
        self.index.insert(word.clone(), self.words.len());
        self.words.push(word);
        self.data.extend_from_slice(values);
        self.places.push(place);
        Ok(())
    }

    pub(super) fn finish(self, dim: usize) -> Result<Embeddings> {
        Embeddings::with_index(self.words, dim, self.data, self.index)
    }
}
