//! Word vectors: the [`Embeddings`] table, the standard files it is stored in, nearest-neighbour
//! queries, and the bridge to a classifier's embedding table.
//!
//! Formats are read from any `BufRead` and written to any `Write`, never from paths, so tests run
//! on in-memory buffers and callers choose files, stdin or compression. Readers stream record by
//! record and name the line (text formats) or byte offset (binary format) of anything malformed;
//! `origin` only names the source in those errors.
//!
//! | format | layout |
//! | --- | --- |
//! | [`VectorFormat::Word2VecBinary`] | `N DIM\n`, then per word `word ` + DIM little-endian f32, optionally `\n` |
//! | [`VectorFormat::Word2VecText`] | `N DIM\n`, then `word v1 ... vDIM\n` (also fastText's `.vec`) |
//! | [`VectorFormat::Glove`] | `word v1 ... vDIM\n`, no header; DIM is read off the first line |
//!
//! ```
//! use lstm_sentiment::vectors::{Embeddings, Utf8, VectorFormat};
//! use std::path::Path;
//!
//! let vectors = Embeddings::new(vec!["good".into(), "bad".into()], 2, vec![1.0, 0.5, -1.0, 0.25])?;
//! let mut file = Vec::new();
//! vectors.write(&mut file, VectorFormat::Word2VecText).unwrap();
//! assert_eq!(file, b"2 2\ngood 1 0.5\nbad -1 0.25\n");
//! let read = Embeddings::read(&file[..], VectorFormat::Word2VecText, Utf8::Strict, Path::new("mem"))?;
//! assert_eq!(read.vector("bad"), Some(&[-1.0, 0.25][..]));
//! # Ok::<(), lstm_sentiment::Error>(())
//! ```

mod binary;
mod classifier;
mod embeddings;
mod query;
mod rows;
mod text;
mod utf8;

pub use classifier::{classifier_embeddings, embedding_init, Coverage};
pub use embeddings::Embeddings;
pub use query::Neighbour;
pub use utf8::Utf8;

use crate::error::{Error, Result};
use std::io::{BufRead, Write};
use std::path::Path;

/// The file formats of word vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorFormat {
    /// word2vec's binary format; written with the `\n` after each vector that word2vec.c writes.
    Word2VecBinary,
    /// word2vec's text format with its `N DIM` header; fastText's `.vec` files are this format.
    Word2VecText,
    /// GloVe's text format: no header.
    Glove,
}

/// Reading and writing in each format. These stay here, above the format modules, so that the
/// modules depend on the table and never the other way round.
impl Embeddings {
    /// Reads a vector file, detecting its format (word2vec binary or text, GloVe) from its start.
    pub fn from_file(path: &Path, utf8: Utf8) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
        let head = reader
            .fill_buf()
            .map_err(|e| Error::io(path, "cannot read", e))?;
        let format = detect_format(head).ok_or_else(|| {
            Error::data(
                path,
                0,
                "not a word2vec (binary or text) or GloVe vector file",
            )
        })?;
        Self::read(reader, format, utf8, path)
    }

    /// Reads vectors in `format`; `origin` names the source in errors.
    pub fn read<R: BufRead>(
        reader: R,
        format: VectorFormat,
        utf8: Utf8,
        origin: &Path,
    ) -> Result<Self> {
        match format {
            VectorFormat::Word2VecBinary => Self::read_word2vec_binary(reader, utf8, origin),
            VectorFormat::Word2VecText => Self::read_word2vec_text(reader, utf8, origin),
            VectorFormat::Glove => Self::read_glove(reader, utf8, origin),
        }
    }

    /// Reads word2vec's binary format, with or without a `\n` after each vector.
    pub fn read_word2vec_binary<R: BufRead>(reader: R, utf8: Utf8, origin: &Path) -> Result<Self> {
        binary::read(reader, utf8, origin)
    }

    /// Reads word2vec's text format (and fastText's `.vec`).
    pub fn read_word2vec_text<R: BufRead>(reader: R, utf8: Utf8, origin: &Path) -> Result<Self> {
        text::read(reader, utf8, origin, true)
    }

    /// Reads GloVe's text format; the dimension is the number of values on the first line.
    pub fn read_glove<R: BufRead>(reader: R, utf8: Utf8, origin: &Path) -> Result<Self> {
        text::read(reader, utf8, origin, false)
    }

    /// Writes the vectors in `format`. Fails with `InvalidInput` on an empty word or one holding
    /// ASCII whitespace, since no format could read it back.
    pub fn write<W: Write>(&self, writer: W, format: VectorFormat) -> std::io::Result<()> {
        match format {
            VectorFormat::Word2VecBinary => self.write_word2vec_binary(writer, true),
            VectorFormat::Word2VecText => text::write(self, writer, true),
            VectorFormat::Glove => text::write(self, writer, false),
        }
    }

    /// Writes word2vec's binary format; `newline` adds the `\n` after each vector that
    /// word2vec.c writes and gensim leaves out (both read either).
    pub fn write_word2vec_binary<W: Write>(&self, writer: W, newline: bool) -> std::io::Result<()> {
        binary::write(self, writer, newline)
    }
}

/// Guesses the format from the first bytes of a file (a few KB are plenty; a line cut short at
/// the end of `head` is judged on what is there). `None` when it looks like none of them.
///
/// A `N DIM` header followed by a line of a word and DIM fields of printable text is word2vec
/// text (whether the fields are numbers is for the reader to say, naming the bad one), a header
/// followed by anything else is binary, and a first line of a word and numbers is GloVe.
pub fn detect_format(head: &[u8]) -> Option<VectorFormat> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let (first, rest) = split_line(head);
    let first = std::str::from_utf8(first.unwrap_or(head)).ok()?;
    let numbers = |fields: &[&str]| fields.iter().all(|v| v.parse::<f32>().is_ok());
    if let Some((_, dim)) = text::parse_header(first) {
        if rest.is_empty() {
            return Some(VectorFormat::Word2VecText);
        }
        let (second, _) = split_line(rest);
        let complete = second.is_some();
        let second_bytes = second.unwrap_or(rest);
        let second = String::from_utf8_lossy(second.unwrap_or(rest));
        let fields: Vec<&str> = second.split_ascii_whitespace().collect();
        // The word, then DIM values (all of them, or some on a line cut short). Counted without
        // `dim + 1`: a header may announce any dimension, up to usize::MAX.
        let values = fields.len().saturating_sub(1);
        let count_fits = if complete {
            !fields.is_empty() && values == dim
        } else {
            (1..=dim).contains(&values)
        };
        return Some(
            if count_fits && (numbers(&fields[1..]) || printable(second_bytes)) {
                VectorFormat::Word2VecText
            } else {
                VectorFormat::Word2VecBinary
            },
        );
    }
    let fields: Vec<&str> = first.split_ascii_whitespace().collect();
    (fields.len() >= 2 && numbers(&fields[1..])).then_some(VectorFormat::Glove)
}

/// Text a person could have typed: UTF-8 (perhaps cut short at the end) without control
/// characters other than tab and carriage return. The raw floats of a binary file are not:
/// nearly every vector holds a byte below 0x20 or one that is not UTF-8.
fn printable(bytes: &[u8]) -> bool {
    let utf8 = match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    utf8 && bytes
        .iter()
        .all(|&b| (b >= 0x20 && b != 0x7f) || b == b'\t' || b == b'\r')
}

/// The first line (`None` if `bytes` ends before a newline) and what follows it.
fn split_line(bytes: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (Some(&bytes[..i]), &bytes[i + 1..]),
        None => (None, bytes),
    }
}
