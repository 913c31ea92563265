//! Which tokens pushed a prediction, by occlusion: each token the model reads is replaced by
//! [`UNK`](crate::tokenizer::UNK) in turn, and its contribution is how much the predicted
//! label's probability falls (a negative contribution: the token held it down). The text and
//! its occluded copies go through the network together, in one batch for texts of up to 255
//! tokens. Hashed bigrams change with the token they contain, as they would for an unknown word.

use crate::classifier::{argmax, Classifier};
use crate::error::Result;
use crate::tokenizer::UNK_ID;
use serde::Serialize;
use std::ops::Range;

/// One text's prediction and each read token's share in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
pub struct Explanation {
    pub text: String,
    /// The predicted label.
    pub label: String,
    /// Its probability.
    pub score: f32,
    /// The tokens the model reads, in text order: all of them, or for a text longer than the
    /// model's `max_length`, those its truncation keeps.
    pub tokens: Vec<TokenContribution>,
}

/// A token of an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
pub struct TokenContribution {
    /// The token as the model reads it (normalized: NFKC, lowercased unless the model keeps case).
    pub token: String,
    /// Where it is in the text, in characters (Unicode scalar values), end excluded:
    /// `text.chars().skip(start).take(end - start)` is the token as written.
    pub start: usize,
    pub end: usize,
    /// p(label | text) - p(label | text with this token as [UNK]); 0 for a word the model does
    /// not know, which is [UNK] already.
    pub contribution: f32,
    /// The same place in bytes, for slicing the text in Rust: `&text[bytes.clone()]`.
    #[serde(skip)]
    pub bytes: Range<usize>,
}

impl Classifier {
    /// How much each token of `text` pushed its prediction (see the module documentation).
    ///
    /// ```
    /// let classifier = lstm_sentiment::Classifier::builtin()?;
    /// let e = classifier.explain("A wonderful film")?;
    /// let strongest = e.tokens.iter().max_by(|a, b| a.contribution.total_cmp(&b.contribution));
    /// assert_eq!(strongest.unwrap().token, "wonderful");
    /// # Ok::<(), lstm_sentiment::Error>(())
    /// ```
    pub fn explain(&self, text: &str) -> Result<Explanation> {
        let words = self.tokenizer().words(text)?;
        let config = self.config();
        let kept = kept_positions(words.len(), config.max_length, config.truncation);
        let ids: Vec<u32> = kept.iter().map(|&i| words[i].id).collect();
        // The text, then one copy per known token with that token occluded.
        let mut rows = vec![ids.clone()];
        let mut occluded = Vec::new();
        for (j, &id) in ids.iter().enumerate() {
            if id != UNK_ID {
                let mut copy = ids.clone();
                copy[j] = UNK_ID;
                rows.push(copy);
                occluded.push(j);
            }
        }
        let probs = self.run_ids(&rows, |out| {
            Ok(candle_nn::ops::softmax_last_dim(&out.logits)?)
        })?;
        let label = argmax(&probs[0]);
        let score = probs[0][label];
        let mut contribution = vec![0f32; ids.len()];
        for (row, &j) in probs[1..].iter().zip(&occluded) {
            contribution[j] = score - row[label];
        }
        let chars = CharIndex::new(text);
        let tokens = kept
            .iter()
            .zip(contribution)
            .map(|(&i, contribution)| {
                let word = &words[i];
                TokenContribution {
                    token: word.text.clone(),
                    start: chars.of(word.bytes.start),
                    end: chars.of(word.bytes.end),
                    contribution,
                    bytes: word.bytes.clone(),
                }
            })
            .collect();
        Ok(Explanation {
            text: text.to_string(),
            label: config.labels[label].clone(),
            score,
            tokens,
        })
    }
}

/// The positions of `len` tokens that a model reading at most `max_len` keeps.
fn kept_positions(len: usize, max_len: usize, truncation: crate::Truncation) -> Vec<usize> {
    if len <= max_len {
        return (0..len).collect();
    }
    let (head, tail) = truncation.split(max_len);
    (0..head).chain(len - tail..len).collect()
}

/// Character positions of byte offsets.
struct CharIndex {
    /// The byte offset of each character.
    starts: Vec<usize>,
}

impl CharIndex {
    fn new(text: &str) -> Self {
        Self {
            starts: text.char_indices().map(|(b, _)| b).collect(),
        }
    }

    /// The number of characters before byte `offset` (a character boundary).
    fn of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&b| b < offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Truncation;

    #[test]
    fn truncation_keeps_the_positions_encoding_keeps() {
        let ids: Vec<u32> = (10..20).collect();
        for truncation in Truncation::ALL {
            for max_len in [1, 4, 5, 10, 12] {
                let kept: Vec<u32> = kept_positions(ids.len(), max_len, truncation)
                    .into_iter()
                    .map(|i| ids[i])
                    .collect();
                assert_eq!(
                    kept,
                    truncation.apply(&ids, max_len),
                    "{truncation} {max_len}"
                );
            }
        }
    }

    #[test]
    fn byte_offsets_become_character_offsets() {
        let text = "a好é!";
        let chars = CharIndex::new(text);
        let at: Vec<usize> = [0, 1, 4, 6, 7].iter().map(|&b| chars.of(b)).collect();
        assert_eq!(at, [0, 1, 2, 3, 4]);
    }
}
