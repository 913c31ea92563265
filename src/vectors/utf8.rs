//! What a vector file reader does with a word that is not valid UTF-8.

/// What a reader does with a word that is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Utf8 {
    /// Reject the file, naming the line or byte.
    #[default]
    Strict,
    /// Replace the bad bytes with U+FFFD, as vectors trained on byte-split text often need.
    Lossy,
}

/// Decodes a word, or says at which byte of it the UTF-8 goes wrong.
pub(super) fn decode(bytes: &[u8], utf8: Utf8) -> std::result::Result<String, usize> {
    match (std::str::from_utf8(bytes), utf8) {
        (Ok(word), _) => Ok(word.to_string()),
        (Err(_), Utf8::Lossy) => Ok(String::from_utf8_lossy(bytes).into_owned()),
        (Err(e), Utf8::Strict) => Err(e.valid_up_to()),
    }
}
