//! word2vec's binary format: a text header `N DIM\n`, then per word its bytes, a space, and DIM
//! little-endian f32. word2vec.c ends each vector with `\n`, gensim does not; gensim's reader
//! strips newlines before a word, and so does this one.

use super::embeddings::Embeddings;
use super::rows::Rows;
use super::text::parse_header;
use super::utf8::{decode, Utf8};
use crate::error::{Error, Result};
use std::io::{BufRead, Read, Write};
use std::path::Path;

/// A word longer than this is taken as a sign of a file that is not binary word2vec.
const MAX_WORD_BYTES: u64 = 64 * 1024;
/// The header `COUNT DIM\n` is a few bytes; a first line longer than this is not one.
const MAX_HEADER_BYTES: u64 = 1024;

pub(super) fn read<R: BufRead>(mut reader: R, utf8: Utf8, origin: &Path) -> Result<Embeddings> {
    let io = |e| Error::io(origin, "cannot read", e);
    let mut header = Vec::new();
    reader
        .by_ref()
        .take(MAX_HEADER_BYTES)
        .read_until(b'\n', &mut header)
        .map_err(io)?;
    let (count, dim) = std::str::from_utf8(&header)
        .ok()
        .and_then(parse_header)
        .ok_or_else(|| Error::data(origin, 1, "expected a header `COUNT DIM`"))?;
    let at =
        |offset: u64, message: String| Error::data(origin, 0, format!("byte {offset}: {message}"));
    let vector_bytes = dim
        .checked_mul(4)
        .ok_or_else(|| Error::data(origin, 1, format!("dimension {dim} is too large")))?;

    let mut offset = header.len() as u64;
    let mut rows = Rows::new(count, dim, "vector", utf8);
    let mut values = Vec::with_capacity(dim.min(1 << 20));
    let mut word = Vec::new();
    let mut raw = Vec::new();
    for i in 1..=count {
        offset += skip_newlines(&mut reader).map_err(io)?;
        let start = offset;
        word.clear();
        let n = reader
            .by_ref()
            .take(MAX_WORD_BYTES + 1)
            .read_until(b' ', &mut word)
            .map_err(io)?;
        offset += n as u64;
        if word.pop() != Some(b' ') {
            let message = if n == 0 {
                format!(
                    "the header announces {count} vectors, the file ends after {}",
                    i - 1
                )
            } else if n as u64 > MAX_WORD_BYTES {
                format!("vector {i}: no space after the word within {MAX_WORD_BYTES} bytes")
            } else {
                format!("vector {i}: the file ends within its word")
            };
            return Err(at(start, message));
        }
        if word.is_empty() {
            return Err(at(start, format!("vector {i}: empty word")));
        }
        let text = decode(&word, utf8).map_err(|bad| {
            at(
                start + bad as u64,
                format!("vector {i}: the word is not valid UTF-8"),
            )
        })?;
        // Read through `take` rather than into a buffer of the promised size, so that a corrupt
        // dimension cannot allocate more than the file holds.
        raw.clear();
        reader
            .by_ref()
            .take(vector_bytes as u64)
            .read_to_end(&mut raw)
            .map_err(io)?;
        if raw.len() < vector_bytes {
            return Err(at(
                offset,
                format!("vector {i} ({text:?}): the file ends within its {dim} values"),
            ));
        }
        values.clear();
        values.extend(
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        rows.push(text, &values, i)
            .map_err(|message| at(offset, format!("vector {i}: {message}")))?;
        offset += vector_bytes as u64;
    }
    offset += skip_newlines(&mut reader).map_err(io)?;
    if !reader.fill_buf().map_err(io)?.is_empty() {
        return Err(at(
            offset,
            format!("more data after the {count} vectors the header announces"),
        ));
    }
    rows.finish(dim)
}

/// Consumes `\n` and `\r` bytes; returns how many.
fn skip_newlines<R: BufRead>(reader: &mut R) -> std::io::Result<u64> {
    let mut skipped = 0;
    loop {
        let buf = reader.fill_buf()?;
        let n = buf
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        if n == 0 {
            return Ok(skipped);
        }
        reader.consume(n);
        skipped += n as u64;
    }
}

pub(super) fn write<W: Write>(
    vectors: &Embeddings,
    mut writer: W,
    newline: bool,
) -> std::io::Result<()> {
    vectors.check_writable()?;
    writeln!(writer, "{} {}", vectors.len(), vectors.dim())?;
    let mut record = Vec::new();
    for (word, vector) in vectors.rows() {
        record.clear();
        record.extend_from_slice(word.as_bytes());
        record.push(b' ');
        for v in vector {
            record.extend_from_slice(&v.to_le_bytes());
        }
        if newline {
            record.push(b'\n');
        }
        writer.write_all(&record)?;
    }
    writer.flush()
}
