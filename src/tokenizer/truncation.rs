//! Which tokens of a text longer than the model's `max_length` it reads: the first ones, the last
//! ones, or both ends. Long reviews often give their verdict at the end.

use super::{End, TextTokenizer};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which tokens a text longer than the limit keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// The first tokens.
    #[default]
    Head,
    /// The last tokens.
    Tail,
    /// The first half of the limit (rounded up) from the start and the rest from the end.
    HeadTail,
}

impl Truncation {
    pub const ALL: [Truncation; 3] = [Truncation::Head, Truncation::Tail, Truncation::HeadTail];

    /// The name config.json and the `--truncate` flag use.
    pub fn name(self) -> &'static str {
        match self {
            Truncation::Head => "head",
            Truncation::Tail => "tail",
            Truncation::HeadTail => "head_tail",
        }
    }

    /// Which tokens are kept, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Truncation::Head => "the first tokens",
            Truncation::Tail => "the last tokens",
            Truncation::HeadTail => "the first half from the start, the second from the end",
        }
    }

    /// How many of `max_len` tokens come from the start and how many from the end of a text
    /// longer than that.
    pub fn split(self, max_len: usize) -> (usize, usize) {
        match self {
            Truncation::Head => (max_len, 0),
            Truncation::Tail => (0, max_len),
            Truncation::HeadTail => (max_len.div_ceil(2), max_len / 2),
        }
    }

    /// What a text with these `ids` keeps of them.
    pub fn apply(self, ids: &[u32], max_len: usize) -> Vec<u32> {
        if ids.len() <= max_len {
            return ids.to_vec();
        }
        let (head, tail) = self.split(max_len);
        let mut kept = ids[..head].to_vec();
        kept.extend_from_slice(&ids[ids.len() - tail..]);
        kept
    }
}

impl std::str::FromStr for Truncation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let found = Truncation::ALL.into_iter().find(|t| t.name() == s);
        found.ok_or_else(|| {
            Error::Config(format!(
                "unknown truncation `{s}` (expected head, tail or head_tail)"
            ))
        })
    }
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TextTokenizer {
    /// Token ids of `text`: all of them when there are at most `max_len`, else those that
    /// `truncation` keeps. The ids are those of encoding the whole text and then truncating; a
    /// long text is encoded from the pieces at its ends that hold them, as in
    /// [`encode`](Self::encode).
    pub fn encode_truncated(
        &self,
        text: &str,
        max_len: usize,
        truncation: Truncation,
    ) -> Result<Vec<u32>> {
        match truncation.split(max_len) {
            (_, 0) => self.encode(text, max_len),
            (0, tail) => self.encode_end(text, tail, End::Tail),
            (head, tail) => {
                // One id past the limit tells whether the text is longer than it.
                let mut ids = self.encode(text, max_len.saturating_add(1))?;
                if ids.len() > max_len {
                    ids.truncate(head);
                    ids.extend(self.encode_end(text, tail, End::Tail)?);
                }
                Ok(ids)
            }
        }
    }

    /// [`encode_truncated`](Self::encode_truncated) for many texts at once; results keep input
    /// order. Texts that are not ASCII go through `tokenizers` in parallel.
    pub fn encode_batch_truncated(
        &self,
        texts: &[&str],
        max_len: usize,
        truncation: Truncation,
    ) -> Result<Vec<Vec<u32>>> {
        match truncation.split(max_len) {
            (_, 0) => self.encode_batch(texts, max_len),
            (0, tail) => self.encode_batch_end(texts, tail, End::Tail),
            (head, tail) => {
                let mut ids = self.encode_batch(texts, max_len.saturating_add(1))?;
                let long: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].len() > max_len).collect();
                let long_texts: Vec<&str> = long.iter().map(|&i| texts[i]).collect();
                let tails = self.encode_batch_end(&long_texts, tail, End::Tail)?;
                for (i, tail) in long.into_iter().zip(tails) {
                    ids[i].truncate(head);
                    ids[i].extend(tail);
                }
                Ok(ids)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::TokenizerConfig;

    fn build(texts: &[&str]) -> TextTokenizer {
        TextTokenizer::build(texts.iter().copied(), &TokenizerConfig::default()).unwrap()
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for t in Truncation::ALL {
            assert_eq!(t.name().parse::<Truncation>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
        }
        let err = "middle".parse::<Truncation>().unwrap_err().to_string();
        assert!(
            err.contains("`middle`") && err.contains("head_tail"),
            "{err}"
        );
    }

    #[test]
    fn each_side_keeps_its_ends() {
        let ids: Vec<u32> = (10..20).collect();
        assert_eq!(Truncation::Head.apply(&ids, 4), [10, 11, 12, 13]);
        assert_eq!(Truncation::Tail.apply(&ids, 4), [16, 17, 18, 19]);
        assert_eq!(Truncation::HeadTail.apply(&ids, 4), [10, 11, 18, 19]);
        // An odd limit gives the extra token to the start.
        assert_eq!(Truncation::HeadTail.apply(&ids, 5), [10, 11, 12, 18, 19]);
        assert_eq!(Truncation::HeadTail.apply(&ids, 1), [10]);
        for t in Truncation::ALL {
            assert_eq!(t.apply(&ids, 10), ids);
            assert_eq!(t.apply(&ids, 0), [] as [u32; 0]);
        }
    }

    /// Long texts of every kind (ASCII or not, a word cut at every possible place, whitespace
    /// runs longer than a piece) keep the ids of the whole text, from either end, alone and in
    /// batches.
    #[test]
    fn long_texts_keep_the_ids_of_the_whole_text() {
        let tokenizer = build(&["a b c word123 é end start 好"]);
        assert!(tokenizer.local);
        let long_word = "x".repeat(61);
        let texts = [
            "start a b c ".repeat(20_000) + "end",
            format!("{long_word} a ").repeat(3_000),
            "ae\u{301}1 b2\u{301} 好".repeat(12_000),
            format!("a b c{}", " ".repeat(300_000)),
            "y".repeat(200_000),
            "好 end".to_string(),
            String::new(),
        ];
        for text in &texts {
            let all = tokenizer.inner.encode(text.as_str(), false).unwrap();
            let all = all.get_ids();
            for n in [0, 1, 3, 1_100, 5_001] {
                for t in Truncation::ALL {
                    let want = t.apply(all, n);
                    let what = format!("{t} n={n} text of {} bytes", text.len());
                    assert_eq!(
                        tokenizer.encode_truncated(text, n, t).unwrap(),
                        want,
                        "{what}"
                    );
                    let batch = [text.as_str(), "end a", "好 b"];
                    let got = tokenizer.encode_batch_truncated(&batch, n, t).unwrap();
                    assert_eq!(got[0], want, "batch {what}");
                    assert_eq!(got[2], tokenizer.encode_truncated("好 b", n, t).unwrap());
                }
            }
        }
    }
}
