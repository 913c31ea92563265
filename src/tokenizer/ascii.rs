//! The crate's own pipeline on ASCII text, without `tokenizers`' bookkeeping.
//!
//! `tokenizers` tracks, for every character of every stage, where it came from (offsets and
//! alignments that prediction never reads), enough to make tokenizing through it about a third of
//! the built-in model's prediction time (docs/performance.md). On ASCII text each stage of the pipeline that
//! `pipeline::standard` builds is simple: NFKC changes nothing; BERT's cleaning drops control
//! characters but tab, line feed and carriage return, which become spaces, and lowercases if asked;
//! BERT's pre-tokenizer splits at whitespace and makes every ASCII punctuation character a word of
//! its own; `Digits` splits runs of digits from the letters around them. [`AsciiWords::encode`]
//! does just that in one pass and looks each word up in the same vocabulary, so it gives the same
//! ids, which the tokenizer's tests (`ascii_fast_path`) check against `tokenizers` on random
//! text. It is used only for tokenizers whose pipeline is exactly the crate's (see
//! [`AsciiWords::for_tokenizer`]), and only for ASCII texts.

use super::pipeline::{self, normalizer_lowercases};
use tokenizers::Tokenizer;

/// The fast path for one tokenizer.
#[derive(Debug, Clone)]
pub struct AsciiWords {
    pub(super) lowercase: bool,
}

impl AsciiWords {
    /// The fast path for `tokenizer` if its normalizer, pre-tokenizer and post-processor are
    /// those `pipeline::standard(lowercase)` makes and it has no added tokens; None otherwise.
    pub fn for_tokenizer(tokenizer: &Tokenizer) -> Option<Self> {
        let plain = tokenizer.get_post_processor().is_none()
            && tokenizer.get_added_tokens_decoder().is_empty();
        if !plain {
            return None;
        }
        let as_json = |t: &Tokenizer| {
            let normalizer = serde_json::to_value(t.get_normalizer()).ok()?;
            let pre_tokenizer = serde_json::to_value(t.get_pre_tokenizer()).ok()?;
            Some((normalizer, pre_tokenizer))
        };
        let lowercase = tokenizer
            .get_normalizer()
            .is_some_and(normalizer_lowercases);
        let standard = pipeline::standard(lowercase).ok()?;
        (as_json(&standard)? == as_json(tokenizer)?).then_some(Self { lowercase })
    }

    /// The ids of `text`, at most `max_len`: `lookup` gives a word's id, `unk` is the id of
    /// words it does not know. `text` must be ASCII.
    pub fn encode(
        &self,
        text: &str,
        max_len: usize,
        lookup: impl Fn(&str) -> Option<u32>,
        unk: u32,
    ) -> Vec<u32> {
        debug_assert!(text.is_ascii());
        let mut ids = Vec::new();
        let mut word = String::new();
        let end_word = |word: &mut String, ids: &mut Vec<u32>| {
            if !word.is_empty() {
                ids.push(lookup(word).unwrap_or(unk));
                word.clear();
            }
        };
        for &b in text.as_bytes() {
            if ids.len() >= max_len {
                break;
            }
            match b {
                b'\t' | b'\n' | b'\r' | b' ' => end_word(&mut word, &mut ids),
                // Control characters are dropped: the letters on either side join up.
                0..=0x1f | 0x7f => {}
                _ if b.is_ascii_punctuation() => {
                    end_word(&mut word, &mut ids);
                    word.push(char::from(b));
                    end_word(&mut word, &mut ids);
                }
                _ => {
                    let c = if self.lowercase {
                        b.to_ascii_lowercase()
                    } else {
                        b
                    };
                    let digit_change = (word.as_bytes().last())
                        .is_some_and(|last| last.is_ascii_digit() != c.is_ascii_digit());
                    if digit_change {
                        end_word(&mut word, &mut ids);
                    }
                    word.push(char::from(c));
                }
            }
        }
        end_word(&mut word, &mut ids);
        ids.truncate(max_len);
        ids
    }
}
