//! The text formats: word2vec text (`N DIM` header, then `word v1 ... vDIM` per line; fastText's
//! `.vec` is the same) and GloVe (the same lines, no header).
//!
//! Fields are split on ASCII whitespace, so fastText's trailing space and CRLF line ends are fine,
//! and words keep non-ASCII spaces. Blank lines are skipped.

use super::{decode, with_capacity, Embeddings, Utf8};
use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::Path;

/// `COUNT DIM` with DIM >= 1, or `None`.
pub(super) fn parse_header(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_ascii_whitespace();
    let count = fields.next()?.parse().ok()?;
    let dim = fields.next()?.parse().ok()?;
    (fields.next().is_none() && dim > 0).then_some((count, dim))
}

pub(super) fn read<R: BufRead>(
    reader: R,
    utf8: Utf8,
    origin: &Path,
    header: bool,
) -> Result<Embeddings> {
    let mut lines = Lines {
        reader,
        buf: Vec::new(),
        number: 0,
    };
    let text = |lines: &mut Lines<R>| -> Result<Option<String>> {
        let number = lines.number + 1;
        match lines
            .next()
            .map_err(|e| Error::io(origin, "cannot read", e))?
        {
            None => Ok(None),
            Some(bytes) => decode(bytes, utf8).map(Some).map_err(|bad| {
                Error::data(origin, number, format!("invalid UTF-8 at byte {}", bad + 1))
            }),
        }
    };

    let (count, mut dim) = if header {
        let line = text(&mut lines)?.unwrap_or_default();
        let (count, dim) = parse_header(&line)
            .ok_or_else(|| Error::data(origin, 1, "expected a header `COUNT DIM`"))?;
        (Some(count), dim)
    } else {
        (None, 0)
    };
    let (mut words, mut data) = with_capacity(count.unwrap_or(0), dim);
    while let Some(line) = text(&mut lines)? {
        let mut fields = line.split_ascii_whitespace();
        let Some(word) = fields.next() else {
            continue;
        };
        let at = |message: String| Error::data(origin, lines.number, message);
        if count.is_some_and(|count| words.len() == count) {
            return Err(at(format!(
                "more vectors than the {} the header announces",
                words.len()
            )));
        }
        let start = data.len();
        for (i, value) in fields.enumerate() {
            let value = value
                .parse::<f32>()
                .map_err(|_| at(format!("value {}: `{value}` is not a number", i + 1)))?;
            data.push(value);
        }
        let found = data.len() - start;
        if dim == 0 {
            if found == 0 {
                return Err(at(format!("`{word}` has no values")));
            }
            dim = found;
        } else if found != dim {
            return Err(at(format!(
                "expected {dim} values after the word, found {found}"
            )));
        }
        words.push(word.to_string());
    }
    if let Some(count) = count.filter(|&count| count != words.len()) {
        return Err(Error::data(
            origin,
            lines.number,
            format!(
                "the header announces {count} vectors, the file ends after {}",
                words.len()
            ),
        ));
    }
    if dim == 0 {
        return Err(Error::data(origin, 0, "no vectors found"));
    }
    Embeddings::new(words, dim, data)
}

/// Physical lines without their line end; the first loses a UTF-8 byte order mark.
struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    number: usize,
}

impl<R: BufRead> Lines<R> {
    fn next(&mut self) -> std::io::Result<Option<&[u8]>> {
        self.buf.clear();
        if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        self.number += 1;
        let mut line = &self.buf[..];
        if self.number == 1 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        Ok(Some(line.strip_suffix(b"\r").unwrap_or(line)))
    }
}

pub(super) fn write<W: Write>(
    vectors: &Embeddings,
    mut writer: W,
    header: bool,
) -> std::io::Result<()> {
    vectors.check_writable()?;
    if header {
        writeln!(writer, "{} {}", vectors.len(), vectors.dim())?;
    }
    let mut line = String::new();
    for (word, vector) in vectors
        .words()
        .iter()
        .zip(vectors.data().chunks_exact(vectors.dim()))
    {
        line.clear();
        line.push_str(word);
        for &v in vector {
            line.push(' ');
            push_value(&mut line, v);
        }
        line.push('\n');
        writer.write_all(line.as_bytes())?;
    }
    writer.flush()
}

/// The shortest text that parses back to exactly `v` (Rust's float formatting guarantees the
/// round trip); exponent notation where plain digits would run long.
fn push_value(line: &mut String, v: f32) {
    let magnitude = v.abs();
    // Writing to a String cannot fail.
    let _ = if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) && v.is_finite() {
        write!(line, "{v:e}")
    } else {
        write!(line, "{v}")
    };
}
