//! Text -> token ids: a `tokenizers` pipeline with a word-level vocabulary built from training text.
//!
//! Only stock `tokenizers` components are used, so the saved `tokenizer.json` loads unchanged in
//! Python (`tokenizers.Tokenizer.from_file`) and gives the same ids there.

mod ascii;
mod json;
mod pipeline;
mod truncation;

pub use pipeline::{is_split_ideograph, PAD, PAD_ID, UNK, UNK_ID};
pub use truncation::Truncation;

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use pipeline::{
    normalizer_is_local, normalizer_lowercases, pre_tokenizer_is_local, split_words,
    split_words_at, tokenizer_error,
};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokenizers::models::wordlevel::{WordLevel, WordLevelTrainer};
use tokenizers::{AddedToken, ModelWrapper, Tokenizer, Trainer};

/// How the vocabulary is built; saved in the model's config.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenizerConfig {
    /// Lowercase text before splitting it into words.
    pub lowercase: bool,
    /// Words seen fewer times than this in the training texts map to [`UNK`].
    pub min_count: usize,
    /// Largest vocabulary, counting the two special tokens.
    pub max_vocab: usize,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        Self {
            lowercase: true,
            min_count: 1,
            max_vocab: 50_000,
        }
    }
}

/// One word of a text: its normalized form, its id and where it is in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub id: u32,
    /// The bytes of the original text it was normalized from.
    pub bytes: std::ops::Range<usize>,
}

/// A word-level tokenizer: NFKC + BERT normalization, words/punctuation/digit-runs as tokens,
/// one id per known word and [`UNK_ID`] for every other one.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    /// Whether every normalizer and pre-tokenizer decides each split from nearby characters only,
    /// so that a long text may be cut before encoding (see [`TextTokenizer::encode`]).
    local: bool,
    /// The same ids for ASCII texts without `tokenizers`' bookkeeping, where the pipeline is the
    /// crate's own.
    ascii: Option<ascii::AsciiWords>,
}

/// A long text is first encoded from a prefix (or, for its last tokens, a suffix) of this many
/// bytes per wanted token (at least [`MIN_PREFIX`]), growing fourfold until the piece yields
/// enough tokens or is the whole text.
const PREFIX_BYTES_PER_TOKEN: usize = 64;
const MIN_PREFIX: usize = 64 << 10;
/// Tokens a piece must yield beyond the wanted ones: its token at the cut may be cut short.
const PREFIX_MARGIN: usize = 2;

impl std::fmt::Debug for TextTokenizer {
    // The full vocabulary would drown any log line the tokenizer shows up in.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("lowercase", &self.lowercase())
            .finish()
    }
}

/// Long texts are counted in pieces of about this many bytes, so that the memory of counting
/// does not grow with a text's length.
const COUNT_PIECE: usize = 1 << 20;

/// `text` in pieces of at most [`COUNT_PIECE`] bytes where it can be cut right after a space, tab
/// or line break: the pipeline always splits words there, so the pieces hold the same words.
fn count_pieces(text: &str) -> impl Iterator<Item = &str> {
    let is_break = |b: &u8| matches!(b, b' ' | b'\t' | b'\n');
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let bytes = rest.as_bytes();
        let cut = if bytes.len() <= COUNT_PIECE {
            bytes.len()
        } else {
            match bytes[..COUNT_PIECE].iter().rposition(is_break) {
                Some(i) => i + 1,
                None => bytes[COUNT_PIECE..]
                    .iter()
                    .position(is_break)
                    .map_or(bytes.len(), |i| COUNT_PIECE + i + 1),
            }
        };
        // The cut follows an ASCII byte, so it is a character boundary.
        let (piece, after) = rest.split_at(cut);
        rest = after;
        Some(piece)
    })
}

/// The end of a text that a piece is cut from, and its ids kept from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Head,
    Tail,
}

impl End {
    /// The longest piece of `text` at this end of at most `max_bytes` bytes that starts and
    /// ends on a character boundary.
    fn piece(self, text: &str, max_bytes: usize) -> &str {
        if max_bytes >= text.len() {
            return text;
        }
        match self {
            End::Head => {
                let mut end = max_bytes;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                &text[..end]
            }
            End::Tail => {
                let mut start = text.len() - max_bytes;
                while !text.is_char_boundary(start) {
                    start += 1;
                }
                &text[start..]
            }
        }
    }

    /// At most `n` of `ids`, from this end.
    fn keep(self, ids: &[u32], n: usize) -> Vec<u32> {
        let n = n.min(ids.len());
        match self {
            End::Head => ids[..n].to_vec(),
            End::Tail => ids[ids.len() - n..].to_vec(),
        }
    }
}

impl TextTokenizer {
    /// Builds the vocabulary from `texts`.
    ///
    /// Ids: [`PAD`] = 0, [`UNK`] = 1, then words by count descending, ties by word (byte order)
    /// ascending, keeping words seen at least `min_count` times, up to `max_vocab` ids in all.
    /// The result does not depend on thread scheduling.
    pub fn build<'a, I: IntoIterator<Item = &'a str>>(
        texts: I,
        config: &TokenizerConfig,
    ) -> Result<Self> {
        if config.max_vocab < 2 {
            return Err(Error::Tokenizer(format!(
                "max_vocab must be at least 2 (room for {PAD} and {UNK}), got {}",
                config.max_vocab
            )));
        }
        let mut tokenizer = pipeline::standard(config.lowercase)?;

        // The trainer sorts by (count desc, word asc) and prepends the specials in order, which is
        // exactly the id layout wanted. Its counting may run in parallel, but sums of counts do
        // not depend on the order they are added in.
        let mut trainer = WordLevelTrainer::builder()
            .min_frequency(config.min_count as u64)
            .vocab_size(config.max_vocab)
            .show_progress(false)
            .special_tokens(vec![
                AddedToken::from(PAD, true),
                AddedToken::from(UNK, true),
            ])
            .build()
            .map_err(tokenizer_error)?;
        // `feed` wants a Send iterator; the caller's iterator need not be one.
        let texts: Vec<&str> = texts.into_iter().flat_map(count_pieces).collect();
        trainer
            .feed(texts.into_iter(), |text| {
                split_words(&tokenizer, text).map_err(|e| e.to_string().into())
            })
            .map_err(tokenizer_error)?;
        let mut model = WordLevel::builder()
            .unk_token(UNK.to_string())
            .build()
            .map_err(tokenizer_error)?;
        // The returned special tokens are deliberately not registered as added tokens: that would
        // make a literal "[PAD]" in a review encode as padding. They are ordinary vocabulary
        // entries, and the pre-tokenizer splits "[" and "]" off, so no text can produce them.
        trainer.train(&mut model).map_err(tokenizer_error)?;
        tokenizer.with_model(model);
        Self::checked(tokenizer).map_err(|message| Error::Tokenizer(message.to_string()))
    }

    /// This vocabulary followed by up to `extra` words of `texts` that it lacks, each seen at
    /// least `min_count` times there, in the order [`build`](Self::build) gives (count
    /// descending, then word). The ids it has keep their words; the new words take the ids
    /// after them. Word vectors pretrained on more text than the labelled texts reach the
    /// model through these ids.
    pub fn extended<'a, I: IntoIterator<Item = &'a str>>(
        &self,
        texts: I,
        min_count: usize,
        extra: usize,
    ) -> Result<Self> {
        let size = self.vocab_size();
        // Both count the two special tokens: of the first size + extra ids of `texts`, at most
        // size - 2 are words this one has, so at least `extra` are words it lacks.
        let counted = Self::build(
            texts,
            &TokenizerConfig {
                lowercase: self.lowercase(),
                min_count,
                max_vocab: size.saturating_add(extra),
            },
        )?;
        let mut vocab = self.inner.get_vocab(false);
        let new_words = (UNK_ID + 1..counted.vocab_size() as u32)
            .filter_map(|id| counted.id_to_token(id))
            .filter(|word| !vocab.contains_key(word))
            .take(extra)
            .collect::<Vec<_>>();
        for (word, id) in new_words.into_iter().zip(size as u32..) {
            vocab.insert(word, id);
        }
        let model = WordLevel::builder()
            .vocab(vocab.into_iter().collect())
            .unk_token(UNK.to_string())
            .build()
            .map_err(tokenizer_error)?;
        let mut tokenizer = self.inner.clone();
        tokenizer.with_model(model);
        Self::checked(tokenizer).map_err(|message| Error::Tokenizer(message.to_string()))
    }

    /// Accepts a tokenizer only if its ids mean what the rest of the crate assumes, and removes
    /// padding and truncation because `encode` must return exactly the text's ids.
    fn checked(mut tokenizer: Tokenizer) -> std::result::Result<Self, String> {
        match tokenizer.get_model() {
            ModelWrapper::WordLevel(model) if model.unk_token == UNK => {}
            _ => return Err("expected a WordLevel model with unk_token \"[UNK]\"".into()),
        }
        if tokenizer.token_to_id(PAD) != Some(PAD_ID) || tokenizer.token_to_id(UNK) != Some(UNK_ID)
        {
            return Err("expected [PAD] with id 0 and [UNK] with id 1".into());
        }
        if let Some(problem) = id_problem(&tokenizer) {
            return Err(problem);
        }
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|_| "cannot disable truncation".to_string())?;
        let local = tokenizer.get_normalizer().is_none_or(normalizer_is_local)
            && tokenizer
                .get_pre_tokenizer()
                .is_some_and(pre_tokenizer_is_local);
        let ascii = ascii::AsciiWords::for_tokenizer(&tokenizer);
        Ok(Self {
            inner: tokenizer,
            local,
            ascii,
        })
    }

    /// Loads a tokenizer from the text of a tokenizer.json; `origin` names it in errors.
    pub fn from_json(json: &str, origin: &Path) -> Result<Self> {
        let bad = |e: serde_json::Error| Error::model(origin, format!("not a tokenizer.json: {e}"));
        let tokenizer = match json::read_word_level(json) {
            Some(tokenizer) => tokenizer,
            None => {
                // `tokenizers` panics on a syntax error inside "decoder" (it expects a helper
                // to deserialize), so the syntax is checked first by a pass that builds nothing.
                serde_json::from_str::<serde::de::IgnoredAny>(json).map_err(bad)?;
                serde_json::from_str(json).map_err(bad)?
            }
        };
        Self::checked(tokenizer)
            .map_err(|message| Error::model(origin, format!("not a tokenizer.json: {message}")))
    }

    /// Loads a tokenizer.json file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let json = std::fs::read_to_string(path).map_err(|e| Error::io(path, "cannot read", e))?;
        Self::from_json(&json, path)
    }

    /// The tokenizer as pretty-printed tokenizer.json text.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(true).map_err(tokenizer_error)
    }

    /// Writes the tokenizer.json to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_json()?.as_bytes())
    }

    /// Token ids of `text`, keeping at most the first `max_len`. Empty text gives no ids.
    ///
    /// A long text is encoded from a prefix that surely holds the first `max_len` tokens (it
    /// yields more than that, and only the last token of a prefix can differ from the whole
    /// text's), so a 10 MB text costs about as much as a short one. The ids are those of
    /// encoding the whole text and truncating.
    pub fn encode(&self, text: &str, max_len: usize) -> Result<Vec<u32>> {
        if let Some(ids) = self.encode_ascii(text, max_len) {
            return Ok(ids);
        }
        self.encode_end(text, max_len, End::Head)
    }

    /// [`encode`](Self::encode) for many texts at once; results keep input order. ASCII texts
    /// take the one-pass path on this thread (far quicker than `tokenizers` on two), the others
    /// go through `tokenizers` in parallel.
    pub fn encode_batch(&self, texts: &[&str], max_len: usize) -> Result<Vec<Vec<u32>>> {
        self.encode_batch_end(texts, max_len, End::Head)
    }

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

    /// At most `n` ids from `end` of `text`, encoded from pieces cut from that end: a piece that
    /// yields more than `n` tokens settles them, as only its token at the cut can differ from
    /// the whole text's.
    fn encode_end(&self, text: &str, n: usize, end: End) -> Result<Vec<u32>> {
        let mut bytes = self.first_piece(text, n);
        loop {
            let piece = end.piece(text, bytes);
            let ids = match self.encode_ascii(piece, usize::MAX) {
                Some(ids) => ids,
                None => (self.inner.encode(piece, false).map_err(tokenizer_error)?)
                    .get_ids()
                    .to_vec(),
            };
            if let Some(ids) = self.kept(piece, text, &ids, n, end) {
                return Ok(ids);
            }
            bytes = bytes.saturating_mul(4);
        }
    }

    /// [`encode_end`](Self::encode_end) for many texts, ASCII ones on this thread, the others
    /// through `tokenizers` in parallel.
    fn encode_batch_end(&self, texts: &[&str], n: usize, end: End) -> Result<Vec<Vec<u32>>> {
        let mut ids: Vec<Option<Vec<u32>>> = Vec::with_capacity(texts.len());
        for text in texts {
            ids.push(match end {
                End::Head => self.encode_ascii(text, n),
                End::Tail if self.ascii.is_some() && text.is_ascii() => {
                    Some(self.encode_end(text, n, end)?)
                }
                End::Tail => None,
            });
        }
        let others: Vec<usize> = (0..texts.len()).filter(|&i| ids[i].is_none()).collect();
        if !others.is_empty() {
            let texts: Vec<&str> = others.iter().map(|&i| texts[i]).collect();
            for (i, encoded) in others
                .into_iter()
                .zip(self.encode_pipeline(&texts, n, end)?)
            {
                ids[i] = Some(encoded);
            }
        }
        Ok(ids
            .into_iter()
            .map(|ids| ids.expect("every text went one way or the other"))
            .collect())
    }

    /// The fast path's ids, for ASCII text where the pipeline is the crate's own.
    fn encode_ascii(&self, text: &str, max_len: usize) -> Option<Vec<u32>> {
        let fast = self.ascii.as_ref().filter(|_| text.is_ascii())?;
        Some(fast.encode(text, max_len, |w| self.inner.token_to_id(w), UNK_ID))
    }

    /// [`encode_batch_end`](Self::encode_batch_end) through `tokenizers`, in parallel.
    fn encode_pipeline(&self, texts: &[&str], n: usize, end: End) -> Result<Vec<Vec<u32>>> {
        let pieces: Vec<&str> = texts
            .iter()
            .map(|text| end.piece(text, self.first_piece(text, n)))
            .collect();
        let encodings = self
            .inner
            .encode_batch(pieces.clone(), false)
            .map_err(tokenizer_error)?;
        texts
            .iter()
            .zip(pieces)
            .zip(&encodings)
            .map(|((text, piece), encoding)| {
                match self.kept(piece, text, encoding.get_ids(), n, end) {
                    Some(ids) => Ok(ids),
                    // Rare: a long text whose first piece held too few tokens.
                    None => self.encode_end(text, n, end),
                }
            })
            .collect()
    }

    /// How many bytes of `text` to encode first.
    fn first_piece(&self, text: &str, max_len: usize) -> usize {
        if !self.local {
            return text.len();
        }
        max_len
            .saturating_add(PREFIX_MARGIN)
            .saturating_mul(PREFIX_BYTES_PER_TOKEN)
            .max(MIN_PREFIX)
    }

    /// The `n` ids at `end` if encoding `piece`, cut from that end of `text`, settles them.
    fn kept(&self, piece: &str, text: &str, ids: &[u32], n: usize, end: End) -> Option<Vec<u32>> {
        let settled = piece.len() == text.len() || ids.len() >= n.saturating_add(PREFIX_MARGIN);
        settled.then(|| end.keep(ids, n))
    }

    /// The words `text` splits into (normalized, before vocabulary lookup, so unknown words are
    /// shown as themselves rather than as [`UNK`]).
    pub fn tokens(&self, text: &str) -> Result<Vec<String>> {
        split_words(&self.inner, text)
    }

    /// The words of `text` as [`tokens`](Self::tokens) gives them, each with its id (the
    /// ids [`encode`](Self::encode) gives, [`UNK_ID`] for a word outside the vocabulary) and
    /// the byte range of `text` it comes from (before lowercasing and normalization, so the
    /// range slices the text as written).
    pub fn words(&self, text: &str) -> Result<Vec<Word>> {
        Ok(split_words_at(&self.inner, text)?
            .into_iter()
            .map(|(text, bytes)| Word {
                id: self.inner.token_to_id(&text).unwrap_or(UNK_ID),
                text,
                bytes,
            })
            .collect())
    }

    /// Number of ids, the two special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a vocabulary entry (no normalization is applied to `token`).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The vocabulary entry with this id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Whether text is lowercased, as read from the normalizer.
    pub fn lowercase(&self) -> bool {
        self.inner
            .get_normalizer()
            .is_some_and(normalizer_lowercases)
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

/// What is wrong with a vocabulary's ids, if anything. Ids are rows of the embedding table, so
/// they must be 0..vocab_size, each used once.
fn id_problem(tokenizer: &Tokenizer) -> Option<String> {
    // The quick check: when every id below the vocabulary's size has a word, the ids are
    // exactly those, each once (there are as many words as the size).
    let size = tokenizer.get_vocab_size(true) as u32;
    if (0..size).all(|id| tokenizer.id_to_token(id).is_some()) {
        return None;
    }
    let mut ids: Vec<(u32, String)> = tokenizer
        .get_vocab(true)
        .into_iter()
        .map(|(word, id)| (id, word))
        .collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        let ((id, first), (_, second)) = (&pair[0], &pair[1]);
        return Some(format!("`{first}` and `{second}` share the id {id}"));
    }
    let gap = (0..ids.len()).find(|&i| ids[i].0 as usize != i)?;
    let (last, last_word) = &ids[ids.len() - 1];
    Some(format!(
        "ids must run from 0 to {} without gaps, but no entry has id {gap} and `{last_word}` has \
         id {last}",
        ids.len() - 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(texts: &[&str]) -> TextTokenizer {
        TextTokenizer::build(texts.iter().copied(), &TokenizerConfig::default()).unwrap()
    }

    fn vocab_in_id_order(tokenizer: &TextTokenizer) -> Vec<String> {
        (0..tokenizer.vocab_size() as u32)
            .map(|id| tokenizer.id_to_token(id).unwrap())
            .collect()
    }

    #[test]
    fn specials_first_then_count_descending_then_word_ascending() {
        let tokenizer = build(&["b a c a", "c b a", "d"]);
        // a:3, b:2, c:2, d:1
        assert_eq!(
            vocab_in_id_order(&tokenizer),
            ["[PAD]", "[UNK]", "a", "b", "c", "d"]
        );
        assert_eq!(tokenizer.token_to_id(PAD), Some(PAD_ID));
        assert_eq!(tokenizer.token_to_id(UNK), Some(UNK_ID));
        assert_eq!(tokenizer.encode("a b c d", 10).unwrap(), [2, 3, 4, 5]);
    }

    #[test]
    fn words_carry_the_ids_of_encode_and_slice_the_text_as_written() {
        let tokenizer = build(&["good food 好吃 abc 123", "ok"]);
        for text in [
            "Good FOOD, 好吃!",
            "ＡＢＣ １２３ good",
            "  unknown  好 ok",
            "",
        ] {
            let words = tokenizer.words(text).unwrap();
            let ids: Vec<u32> = words.iter().map(|w| w.id).collect();
            assert_eq!(ids, tokenizer.encode(text, 100).unwrap(), "{text}");
            for w in &words {
                // The written form, read alone, is the word again.
                let written = &text[w.bytes.clone()];
                assert_eq!(
                    tokenizer.tokens(written).unwrap(),
                    [w.text.as_str()],
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn build_is_deterministic() {
        let texts: Vec<String> = (0..2000)
            .map(|i| format!("w{} w{} common tie{}", i % 97, i % 13, i % 2))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let first = build(&refs).to_json().unwrap();
        for _ in 0..3 {
            assert_eq!(build(&refs).to_json().unwrap(), first);
        }
    }

    #[test]
    fn min_count_drops_rare_words() {
        let config = TokenizerConfig {
            min_count: 2,
            ..TokenizerConfig::default()
        };
        let tokenizer = TextTokenizer::build(["x y y z z z"], &config).unwrap();
        assert_eq!(vocab_in_id_order(&tokenizer), ["[PAD]", "[UNK]", "z", "y"]);
        assert_eq!(tokenizer.encode("x y z", 10).unwrap(), [UNK_ID, 3, 2]);
    }

    #[test]
    fn extended_keeps_the_ids_and_appends_the_most_frequent_new_words() {
        let config = TokenizerConfig {
            max_vocab: 4,
            ..TokenizerConfig::default()
        };
        let labelled = TextTokenizer::build(["good good bad"], &config).unwrap();
        let more = ["bad spotless spotless spotless rude rude once", "good"];
        let extended = labelled.extended(more, 2, 5).unwrap();
        assert_eq!(
            vocab_in_id_order(&extended),
            ["[PAD]", "[UNK]", "good", "bad", "spotless", "rude"]
        );
        assert_eq!(
            extended.encode("good bad spotless rude once", 10).unwrap(),
            [2, 3, 4, 5, UNK_ID]
        );
        let one = labelled.extended(more, 1, 1).unwrap();
        assert_eq!(vocab_in_id_order(&one)[4..], ["spotless"]);
    }

    #[test]
    fn max_vocab_counts_the_specials() {
        let config = TokenizerConfig {
            max_vocab: 4,
            ..TokenizerConfig::default()
        };
        let tokenizer = TextTokenizer::build(["a a a a b b b c c d"], &config).unwrap();
        assert_eq!(vocab_in_id_order(&tokenizer), ["[PAD]", "[UNK]", "a", "b"]);
        assert_eq!(
            tokenizer.encode("a b c d", 10).unwrap(),
            [2, 3, UNK_ID, UNK_ID]
        );
    }

    #[test]
    fn max_vocab_too_small_is_an_error() {
        let config = TokenizerConfig {
            max_vocab: 1,
            ..TokenizerConfig::default()
        };
        assert!(matches!(
            TextTokenizer::build(["a"], &config),
            Err(Error::Tokenizer(_))
        ));
    }

    #[test]
    fn empty_corpus_gives_only_specials() {
        let tokenizer = TextTokenizer::build([], &TokenizerConfig::default()).unwrap();
        assert_eq!(tokenizer.vocab_size(), 2);
        assert_eq!(tokenizer.encode("anything", 5).unwrap(), [UNK_ID]);
    }

    #[test]
    fn lowercase_on_and_off() {
        let lower = build(&["Good GOOD good"]);
        assert!(lower.lowercase());
        assert_eq!(lower.tokens("Good GOOD").unwrap(), ["good", "good"]);
        assert_eq!(lower.vocab_size(), 3);

        let config = TokenizerConfig {
            lowercase: false,
            ..TokenizerConfig::default()
        };
        let cased = TextTokenizer::build(["Good GOOD good"], &config).unwrap();
        assert!(!cased.lowercase());
        assert_eq!(cased.tokens("Good GOOD").unwrap(), ["Good", "GOOD"]);
        assert_eq!(cased.vocab_size(), 5);
        assert_eq!(cased.encode("Good gOOd", 5).unwrap()[1], UNK_ID);
    }

    #[test]
    fn accents_are_kept() {
        let tokenizer = build(&["Café"]);
        assert_eq!(tokenizer.tokens("CAFÉ cafe").unwrap(), ["café", "cafe"]);
    }

    #[test]
    fn nfkc_folds_full_width_forms() {
        let tokenizer = build(&["abc"]);
        assert_eq!(tokenizer.tokens("ＡＢＣ").unwrap(), ["abc"]);
        assert_eq!(
            tokenizer.encode("ＡＢＣ", 5).unwrap(),
            tokenizer.encode("abc", 5).unwrap()
        );
        assert_ne!(tokenizer.encode("abc", 5).unwrap(), [UNK_ID]);
    }

    #[test]
    fn chinese_is_split_into_characters() {
        let tokenizer = build(&["这家店很好吃"]);
        assert_eq!(
            tokenizer.tokens("这家店很好吃").unwrap(),
            ["这", "家", "店", "很", "好", "吃"]
        );
        let ids = tokenizer.encode("这家店很好吃", 100).unwrap();
        assert_eq!(ids.len(), 6);
        assert!(ids.iter().all(|&id| id > UNK_ID));
        // Mixed scripts and full-width punctuation split cleanly too.
        assert_eq!(
            tokenizer.tokens("好吃！good").unwrap(),
            ["好", "吃", "!", "good"]
        );
    }

    #[test]
    fn digits_and_punctuation_are_split() {
        let tokenizer = build(&["x"]);
        assert_eq!(tokenizer.tokens("abc123").unwrap(), ["abc", "123"]);
        assert_eq!(tokenizer.tokens("great!!").unwrap(), ["great", "!", "!"]);
        assert_eq!(
            tokenizer.tokens("It's 3.5 stars, don't").unwrap(),
            ["it", "'", "s", "3", ".", "5", "stars", ",", "don", "'", "t"]
        );
        assert_eq!(tokenizer.tokens("[PAD]").unwrap(), ["[", "pad", "]"]);
    }

    #[test]
    fn whitespace_and_control_characters_are_cleaned() {
        let tokenizer = build(&["x"]);
        assert_eq!(
            tokenizer.tokens("  a\tb\r\n\u{0}c\u{200b} ").unwrap(),
            ["a", "b", "c"]
        );
        assert!(tokenizer.tokens(" \n\t").unwrap().is_empty());
    }

    #[test]
    fn truncation_keeps_the_first_ids() {
        let tokenizer = build(&["a b c d e"]);
        let all = tokenizer.encode("a b c d e", 100).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(tokenizer.encode("a b c d e", 3).unwrap(), all[..3]);
        assert!(tokenizer.encode("a b c d e", 0).unwrap().is_empty());
        assert!(tokenizer.encode("", 10).unwrap().is_empty());
    }

    #[test]
    fn a_long_text_counts_its_words_like_many_short_ones() {
        let lines: Vec<String> = (0..200_000)
            .map(|i| format!("word{} é{}\tx{}", i % 101, i % 7, i % 3))
            .collect();
        let joined = lines.join("\n");
        assert!(joined.len() > 2 * COUNT_PIECE);
        assert!(count_pieces(&joined).count() > 2);
        assert_eq!(count_pieces(&joined).collect::<String>(), joined);
        let short: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(
            build(&[joined.as_str()]).to_json().unwrap(),
            build(&short).to_json().unwrap()
        );
        assert_eq!(count_pieces("").count(), 0);
        assert_eq!(count_pieces("a b").collect::<Vec<_>>(), ["a b"]);
    }

    #[test]
    fn long_texts_give_the_ids_of_the_whole_text() {
        let tokenizer = build(&["a b c word123 é"]);
        assert!(tokenizer.local);
        let long_word = "x".repeat(61);
        let texts = [
            // Short tokens: the first prefix settles it.
            "a b c ".repeat(20_000),
            // About 64 bytes a token: the prefix ends right at the tokens wanted.
            format!("{long_word} a ").repeat(3_000),
            // Combining marks and digits around every possible cut.
            "ae\u{301}1 b2\u{301} ".repeat(12_000),
            // Whitespace first: the prefix holds no token and must grow.
            format!("{}a b c", " ".repeat(300_000)),
            // Nothing but one enormous word.
            "y".repeat(200_000),
        ];
        for text in &texts {
            let all = tokenizer.inner.encode(text.as_str(), false).unwrap();
            for n in [0, 3, 1_100, 5_000] {
                let want = all.get_ids()[..all.get_ids().len().min(n)].to_vec();
                assert_eq!(tokenizer.encode(text, n).unwrap(), want, "n={n}");
                let batch = tokenizer.encode_batch(&[text.as_str(), "a b"], n).unwrap();
                assert_eq!(batch[0], want, "batch n={n}");
            }
        }
    }

    #[test]
    fn unknown_words_map_to_unk() {
        let tokenizer = build(&["good movie"]);
        assert_eq!(
            tokenizer.encode("terrible awful", 10).unwrap(),
            [UNK_ID, UNK_ID]
        );
        let ids = tokenizer.encode("good terrible", 10).unwrap();
        assert_eq!(ids, [tokenizer.token_to_id("good").unwrap(), UNK_ID]);
        // Literal special-token text is just punctuation and a word, never padding.
        assert!(!tokenizer.encode("[PAD]", 10).unwrap().contains(&PAD_ID));
    }

    #[test]
    fn encode_batch_matches_encode() {
        let tokenizer = build(&["the movie was great", "这家店很好吃", "10 out of 10!"]);
        let texts = [
            "The movie was GREAT!!",
            "",
            "这家店很好吃 123",
            "unknown words only",
        ];
        let batch = tokenizer.encode_batch(&texts, 4).unwrap();
        assert_eq!(batch.len(), texts.len());
        for (text, ids) in texts.iter().zip(&batch) {
            assert_eq!(ids, &tokenizer.encode(text, 4).unwrap());
        }
        assert!(tokenizer.encode_batch(&[], 4).unwrap().is_empty());
    }

    #[test]
    fn json_round_trip_gives_identical_ids() {
        let tokenizer = build(&["The movie was great", "这家店很好吃", "rated 10/10!"]);
        let json = tokenizer.to_json().unwrap();
        let loaded = TextTokenizer::from_json(&json, Path::new("model/tokenizer.json")).unwrap();
        assert_eq!(loaded.vocab_size(), tokenizer.vocab_size());
        assert_eq!(loaded.lowercase(), tokenizer.lowercase());
        for text in ["The MOVIE was great!", "这家店很好吃", "10/10 unseen", ""] {
            assert_eq!(
                loaded.encode(text, 64).unwrap(),
                tokenizer.encode(text, 64).unwrap()
            );
        }
        assert_eq!(loaded.to_json().unwrap(), json);
    }

    #[test]
    fn save_and_load_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        let tokenizer = build(&["a b c"]);
        tokenizer.save(&path).unwrap();
        let loaded = TextTokenizer::from_file(&path).unwrap();
        assert_eq!(
            loaded.encode("c b a z", 10).unwrap(),
            tokenizer.encode("c b a z", 10).unwrap()
        );
    }

    #[test]
    fn bad_json_names_the_file() {
        let path = Path::new("some/dir/tokenizer.json");
        for json in ["", "not json", "{}", "[1, 2]", r#"{"model": 3}"#] {
            let err = TextTokenizer::from_json(json, path).unwrap_err();
            let message = err.to_string();
            assert!(message.contains("some/dir/tokenizer.json"), "{message}");
            assert!(message.contains("not a tokenizer.json"), "{message}");
        }
    }

    #[test]
    fn foreign_vocabulary_layout_is_rejected() {
        let json = build(&["a"]).to_json().unwrap();
        let swapped = json
            .replace("\"[PAD]\": 0", "\"[PAD]\": 9")
            .replace("\"a\": 2", "\"a\": 0");
        assert_ne!(swapped, json);
        let err = TextTokenizer::from_json(&swapped, Path::new("t.json")).unwrap_err();
        assert!(err.to_string().contains("[PAD]"), "{err}");
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = TextTokenizer::from_file(Path::new("/nonexistent/tokenizer.json")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/tokenizer.json"));
    }

    #[test]
    fn config_defaults_fill_missing_fields() {
        let config: TokenizerConfig = serde_json::from_str(r#"{"min_count": 3}"#).unwrap();
        assert_eq!(
            config,
            TokenizerConfig {
                min_count: 3,
                ..TokenizerConfig::default()
            }
        );
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

    /// The ASCII fast path ([`AsciiWords`](super::ascii::AsciiWords)) gives the ids that
    /// `tokenizers` gives for the crate's pipeline, and stays out of the way of other pipelines.
    mod ascii_fast_path {
        use super::super::ascii::AsciiWords;
        use super::super::{TextTokenizer, TokenizerConfig, UNK_ID};
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};

        /// Random ASCII with plenty of what the stages treat specially: controls, whitespace of
        /// every kind, punctuation, digits next to letters, capitals.
        fn random_text(rng: &mut StdRng, words: &[&str]) -> String {
            let mut text = String::new();
            for _ in 0..rng.random_range(0..30) {
                match rng.random_range(0..10) {
                    0 => text.push(char::from(rng.random_range(0u8..0x20))),
                    1 => text.push(char::from(rng.random_range(0x21u8..0x7f))),
                    2 => text.push_str(&rng.random_range(0..10_000).to_string()),
                    3 => text.push(
                        ['\t', '\n', '\r', ' ', '\x0b', '\x0c', '\x7f'][rng.random_range(0..7)],
                    ),
                    4 => text.push_str(&words[rng.random_range(0..words.len())].to_uppercase()),
                    _ => text.push_str(words[rng.random_range(0..words.len())]),
                }
                if rng.random_bool(0.7) {
                    text.push(' ');
                }
            }
            text
        }

        #[test]
        fn gives_the_ids_tokenizers_gives() {
            let words = [
                "good",
                "film",
                "bad",
                "a1",
                "x2y",
                "it's",
                "well-made",
                "don't",
                "ok",
            ];
            let mut rng = StdRng::seed_from_u64(3);
            let training: Vec<String> = (0..300).map(|_| random_text(&mut rng, &words)).collect();
            for lowercase in [true, false] {
                let config = TokenizerConfig {
                    lowercase,
                    ..TokenizerConfig::default()
                };
                let tokenizer = TextTokenizer::build(training.iter().map(String::as_str), &config);
                let tokenizer = tokenizer.unwrap();
                let fast =
                    AsciiWords::for_tokenizer(tokenizer.inner()).expect("the crate's pipeline");
                assert_eq!(fast.lowercase, lowercase);
                for round in 0..3000 {
                    let text = random_text(&mut rng, &words);
                    let max_len = [512, 3, 0][round % 3];
                    let want = tokenizer.inner().encode(text.as_str(), false).unwrap();
                    let want = &want.get_ids()[..want.get_ids().len().min(max_len)];
                    let got = fast.encode(&text, max_len, |w| tokenizer.token_to_id(w), UNK_ID);
                    assert_eq!(
                        got, want,
                        "{text:?}, lowercase {lowercase}, max_len {max_len}"
                    );
                }
            }
        }

        #[test]
        fn other_pipelines_are_left_to_tokenizers() {
            let standard = TextTokenizer::build(["a b"], &TokenizerConfig::default()).unwrap();
            let mut other = standard.inner().clone();
            other.with_pre_tokenizer(Some(tokenizers::pre_tokenizers::whitespace::Whitespace {}));
            assert!(AsciiWords::for_tokenizer(&other).is_none());
            let mut other = standard.inner().clone();
            other
                .with_normalizer(None::<tokenizers::NormalizerWrapper>)
                .unwrap();
            assert!(AsciiWords::for_tokenizer(&other).is_none());
        }
    }

    fn saved_json() -> String {
        let texts = [
            "the room was clean",
            "rude staff, cold food",
            "好吃 不错 the",
        ];
        let config = TokenizerConfig::default();
        TextTokenizer::build(texts, &config)
            .unwrap()
            .to_json()
            .unwrap()
    }

    #[test]
    fn a_saved_tokenizer_reads_as_tokenizers_itself_reads_it() {
        let json = saved_json();
        let quick =
            json::read_word_level(&json).expect("a word-level tokenizer takes the quick path");
        let usual: Tokenizer = serde_json::from_str(&json).unwrap();
        assert_eq!(quick.get_vocab(true), usual.get_vocab(true));
        for text in ["The room was CLEAN!", "staff 好吃 unknown-word", ""] {
            let ids = |t: &Tokenizer| t.encode(text, false).unwrap().get_ids().to_vec();
            assert_eq!(ids(&quick), ids(&usual), "{text}");
        }
        // Written back, it is the same file.
        assert_eq!(
            quick.to_string(true).unwrap(),
            usual.to_string(true).unwrap()
        );
    }

    #[test]
    fn added_tokens_and_other_models_take_the_usual_path() {
        let json = saved_json();
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["added_tokens"] = serde_json::json!([{
            "id": 2, "content": "the", "single_word": false, "lstrip": false, "rstrip": false,
            "normalized": true, "special": false
        }]);
        assert!(json::read_word_level(&value.to_string()).is_none());
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["model"]["type"] = "WordPiece".into();
        assert!(json::read_word_level(&value.to_string()).is_none());
        assert!(json::read_word_level("{\"model\": ").is_none());
    }
}
