//! Hashed bigrams, fastText's trick inside the network: with `ngram_buckets` K, the vector at
//! position t is `E[w_t] + B[bucket(w_{t-1}, w_t)]`, where B is a second table of K rows. The
//! first layer then sees pairs of tokens, not single tokens only: word pairs in English
//! ("not good"), character pairs in Chinese, where the tokenizer splits every character and
//! most words are two characters long.
//!
//! The hash works on token ids after truncation, so tokenizer.json stays the stock
//! `tokenizers` pipeline. The token before the first is `[PAD]` (id 0, which no text's tokens
//! hold). Ids are below 2^31 and the multipliers below 2^32, so every product and the
//! exclusive-or fit a signed 64-bit integer without overflow: PyTorch computes the same
//! buckets with int64 tensor ops (scripts/parity/torch_twin.py, `bucket_ids`):
//!
//! ```python
//! prev = torch.cat([torch.zeros_like(ids[:, :1]), ids[:, :-1]], dim=1)
//! buckets = ((prev * 2654435761) ^ (ids * 2246822519)) % ngram_buckets
//! ```
//!
//! Distinct pairs may share a bucket, as in fastText; a table of many more rows than the
//! training texts hold distinct pairs keeps such sharing rare.

/// What the previous token's id is multiplied by (0x9E3779B1, a prime below 2^32).
pub const PREVIOUS_FACTOR: u64 = 0x9E37_79B1;
/// What the token's own id is multiplied by (0x85EBCA77, a prime below 2^32).
pub const TOKEN_FACTOR: u64 = 0x85EB_CA77;
/// The most buckets a table may have: bucket numbers stay below 2^31, like token ids.
pub const MAX_BUCKETS: usize = 1 << 31;
/// The buckets a run gets when the training texts decide and call for bigrams
/// ([`long_or_ideographic`]).
pub const AUTO_BUCKETS: usize = 100_000;
/// The mean tokens per text from which texts count as long for [`long_or_ideographic`].
pub const LONG_TEXT_TOKENS: usize = 50;

/// Whether `texts` call for bigrams: most of their tokens are single Chinese or Japanese
/// ideographs, which the tokenizer splits apart (so that the bigrams bring back the words,
/// most of them two characters long), or the texts are long (at least [`LONG_TEXT_TOKENS`]
/// tokens on average: reviews of a paragraph and more, whose many word pairs each recur often
/// enough to learn). Not so sentences of words, where bigrams cost more than they give.
pub fn long_or_ideographic<'a>(texts: impl IntoIterator<Item = &'a str>) -> bool {
    let shape = TextShape::of(texts);
    shape.ideographic || shape.long
}

/// What the training texts are, as the defaults left to them read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextShape {
    /// Most of their tokens are single Chinese or Japanese ideographs.
    pub ideographic: bool,
    /// At least [`LONG_TEXT_TOKENS`] tokens a text on average.
    pub long: bool,
}

impl TextShape {
    pub fn of<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let (mut ideographs, mut words, mut count) = (0usize, 0usize, 0usize);
        for text in texts {
            count += 1;
            let mut in_word = false;
            for c in text.chars() {
                if crate::tokenizer::is_split_ideograph(c) {
                    ideographs += 1;
                    in_word = false;
                } else if c.is_alphanumeric() {
                    words += usize::from(!in_word);
                    in_word = true;
                } else {
                    in_word = false;
                }
            }
        }
        Self {
            ideographic: ideographs > words,
            long: ideographs + words >= LONG_TEXT_TOKENS * count.max(1),
        }
    }
}

/// The id standing before a text's first token.
const BEFORE_FIRST: u32 = crate::tokenizer::PAD_ID;

/// The bucket of token `id` after token `previous`, out of `buckets` (at least 1).
pub fn bucket(previous: u32, id: u32, buckets: usize) -> u32 {
    let h = (u64::from(previous) * PREVIOUS_FACTOR) ^ (u64::from(id) * TOKEN_FACTOR);
    // Below `buckets`, which is at most 2^31.
    (h % buckets as u64) as u32
}

/// The bucket of every token of a text, in order.
pub fn text_buckets(ids: &[u32], buckets: usize) -> Vec<u32> {
    let previous = std::iter::once(BEFORE_FIRST).chain(ids.iter().copied());
    (previous.zip(ids))
        .map(|(p, &id)| bucket(p, id, buckets))
        .collect()
}

/// The buckets of a padded batch of ids, (time, batch) time-major. Positions past a text's end
/// get a bucket too (of the padding); no result reads them.
pub fn batch_buckets(ids: &[u32], batch: usize, buckets: usize) -> Vec<u32> {
    (0..ids.len())
        .map(|i| {
            let previous = i.checked_sub(batch).map_or(BEFORE_FIRST, |j| ids[j]);
            bucket(previous, ids[i], buckets)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from Python integers, which never overflow:
    ///
    /// ```python
    /// def bucket(p, c, k): return ((p * 2654435761) ^ (c * 2246822519)) % k
    /// [bucket(0, 5, 100000), bucket(7, 5, 100000), bucket(5, 7, 100000),
    ///  bucket(2**31 - 1, 2**31 - 1, 2**31), bucket(2**31 - 1, 12345, 1000003), bucket(3, 4, 1)]
    /// # [12595, 19236, 80948, 467448774, 315415, 0]
    /// ```
    ///
    /// torch 2.15 gives the same from int64 tensors (`(p * 2654435761) ^ (c * 2246822519)) % k`).
    #[test]
    fn buckets_match_python_integers_up_to_the_largest_ids() {
        let got = [
            bucket(0, 5, 100_000),
            bucket(7, 5, 100_000),
            bucket(5, 7, 100_000),
            bucket((1 << 31) - 1, (1 << 31) - 1, 1 << 31),
            bucket((1 << 31) - 1, 12345, 1_000_003),
            bucket(3, 4, 1),
        ];
        assert_eq!(got, [12595, 19236, 80948, 467448774, 315415, 0]);
    }

    #[test]
    fn the_texts_decide_for_bigrams_by_their_script_and_length() {
        assert!(long_or_ideographic(["味道不错，送餐很快", "太难吃了"]));
        assert!(!long_or_ideographic(["the food was good", "too slow"]));
        // Counted in tokens: a Chinese review naming an English product is still Chinese.
        assert!(long_or_ideographic(["iPhone 手机很好用，电池耐用"]));
        assert!(!long_or_ideographic([
            "The noodles (面条) were great and the staff kind"
        ]));
        assert!(!long_or_ideographic(std::iter::empty()));
        // Long English texts: 50 words on average.
        let long = "word ".repeat(60);
        let short = "word ".repeat(40);
        assert!(long_or_ideographic([long.as_str(), short.as_str()]));
        assert!(!long_or_ideographic([short.as_str(), short.as_str()]));
    }

    #[test]
    fn a_text_starts_after_pad_and_a_batch_reads_each_text_alone() {
        let k = 1000;
        let texts = [vec![4, 9, 4], vec![9]];
        let want = |t: &[u32]| text_buckets(t, k);
        assert_eq!(
            want(&texts[0]),
            [bucket(0, 4, k), bucket(4, 9, k), bucket(9, 4, k)]
        );
        // (time 3, batch 2), the second text padded with [PAD].
        let padded = [4, 9, 9, 0, 4, 0];
        let got = batch_buckets(&padded, 2, k);
        assert_eq!([got[0], got[2], got[4]], want(&texts[0])[..]);
        assert_eq!(got[1], want(&texts[1])[0]);
    }
}
