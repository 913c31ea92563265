//! The pipeline every vocabulary of the crate runs text through (`tokenizers`' NFKC and BERT
//! normalizers, BERT's and `Digits` pre-tokenizers), the special tokens every vocabulary starts
//! with, and what the rest of the tokenizer needs to know about a pipeline read from a file.

use crate::error::{Error, Result};
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::normalizers::{BertNormalizer, Sequence as NormalizerSequence, NFKC};
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::{
    NormalizerWrapper, OffsetReferential, OffsetType, PreTokenizer, PreTokenizerWrapper, Tokenizer,
};

/// Id of the padding token; batches are padded with it.
pub const PAD_ID: u32 = 0;
/// Id every out-of-vocabulary word maps to.
pub const UNK_ID: u32 = 1;
/// The padding token's text.
pub const PAD: &str = "[PAD]";
/// The unknown-word token's text.
pub const UNK: &str = "[UNK]";

pub(super) fn tokenizer_error(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
}

/// The pipeline minus the model. Counting during `build` and encoding both run through it, so
/// the vocabulary is made of exactly the strings that encoding later looks up.
pub(super) fn standard(lowercase: bool) -> Result<Tokenizer> {
    let mut tokenizer = Tokenizer::new(
        WordLevel::builder()
            .unk_token(UNK.to_string())
            .build()
            .map_err(tokenizer_error)?,
    );
    // NFKC first so full-width forms and ligatures are folded before BERT's cleaning sees them;
    // accents are kept explicitly because BERT would otherwise strip them whenever it lowercases.
    let normalizer = NormalizerSequence::new(vec![
        NFKC.into(),
        BertNormalizer::new(true, true, Some(false), lowercase).into(),
    ]);
    tokenizer
        .with_normalizer(Some(normalizer))
        .map_err(tokenizer_error)?;
    let pre_tokenizer =
        PreTokenizerSequence::new(vec![BertPreTokenizer.into(), Digits::new(false).into()]);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    Ok(tokenizer)
}

/// Whether BERT's normalizer cuts `c` out as a token of its own: the CJK ideographs (the
/// ranges of `tokenizers`' `is_chinese_char`), so Chinese text becomes one token per character.
pub fn is_split_ideograph(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

/// Normalized, pre-tokenized words of `text`, split the same way `Tokenizer::encode` splits it.
pub(super) fn split_words(tokenizer: &Tokenizer, text: &str) -> Result<Vec<String>> {
    Ok(split_words_at(tokenizer, text)?
        .into_iter()
        .map(|(word, _)| word)
        .collect())
}

/// [`split_words`] with each word's byte range in `text` itself (before normalization): the
/// characters it was normalized from.
pub(super) fn split_words_at(
    tokenizer: &Tokenizer,
    text: &str,
) -> Result<Vec<(String, std::ops::Range<usize>)>> {
    let mut pretokenized = tokenizer
        .get_added_vocabulary()
        .extract_and_normalize(tokenizer.get_normalizer(), text);
    if let Some(pre_tokenizer) = tokenizer.get_pre_tokenizer() {
        pre_tokenizer
            .pre_tokenize(&mut pretokenized)
            .map_err(tokenizer_error)?;
    }
    Ok(pretokenized
        .get_splits(OffsetReferential::Original, OffsetType::Byte)
        .into_iter()
        .map(|(word, (start, end), _)| (word.to_owned(), start..end))
        .collect())
}

/// Normalizers that map each character with at most its neighbours (Unicode normalization
/// composes a character with the marks after it), so a cut changes only the text near it.
pub(super) fn normalizer_is_local(normalizer: &NormalizerWrapper) -> bool {
    match normalizer {
        NormalizerWrapper::BertNormalizer(_)
        | NormalizerWrapper::StripNormalizer(_)
        | NormalizerWrapper::StripAccents(_)
        | NormalizerWrapper::NFC(_)
        | NormalizerWrapper::NFD(_)
        | NormalizerWrapper::NFKC(_)
        | NormalizerWrapper::NFKD(_)
        | NormalizerWrapper::Lowercase(_) => true,
        NormalizerWrapper::Sequence(sequence) => sequence.as_ref().iter().all(normalizer_is_local),
        _ => false,
    }
}

/// Pre-tokenizers that split where a character or a change of character class is, so the
/// words before a cut are the same as in the whole text.
pub(super) fn pre_tokenizer_is_local(pre_tokenizer: &PreTokenizerWrapper) -> bool {
    match pre_tokenizer {
        PreTokenizerWrapper::BertPreTokenizer(_)
        | PreTokenizerWrapper::Whitespace(_)
        | PreTokenizerWrapper::WhitespaceSplit(_)
        | PreTokenizerWrapper::Punctuation(_)
        | PreTokenizerWrapper::Digits(_)
        | PreTokenizerWrapper::Delimiter(_) => true,
        PreTokenizerWrapper::Sequence(sequence) => {
            sequence.as_ref().iter().all(pre_tokenizer_is_local)
        }
        _ => false,
    }
}

/// Whether the normalizer lowercases text.
pub(super) fn normalizer_lowercases(normalizer: &NormalizerWrapper) -> bool {
    match normalizer {
        NormalizerWrapper::BertNormalizer(bert) => bert.lowercase,
        NormalizerWrapper::Lowercase(_) => true,
        NormalizerWrapper::Sequence(sequence) => {
            sequence.as_ref().iter().any(normalizer_lowercases)
        }
        _ => false,
    }
}
