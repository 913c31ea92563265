//! The text formats: word2vec text (`N DIM` header, then `word v1 ... vDIM` per line; fastText's
//! `.vec` is the same) and GloVe (the same lines, no header).
//!
//! Fields are split on ASCII whitespace, so fastText's trailing space and CRLF line ends are fine,
//! and words keep non-ASCII spaces. Blank lines are skipped. Lines are read as data files' are:
//! a byte order mark is dropped and a line longer than [`crate::data::MAX_LINE_BYTES`] stops
//! the reading.

use super::embeddings::Embeddings;
use super::rows::Rows;
use super::utf8::{decode, Utf8};
use crate::data::lines::Lines;
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
    let mut lines = Lines::new(reader, origin);
    let (count, mut dim) = if header {
        let line = next_text(&mut lines, utf8, origin)?.map(|(_, text)| text);
        let (count, dim) = line
            .as_deref()
            .and_then(parse_header)
            .ok_or_else(|| Error::data(origin, 1, "expected a header `COUNT DIM`"))?;
        (Some(count), dim)
    } else {
        (None, 0)
    };
    let mut rows = Rows::new(count.unwrap_or(0), dim, "line", utf8);
    let mut records = 0;
    let mut last_line = 0;
    let mut values = Vec::new();
    while let Some((number, line)) = next_text(&mut lines, utf8, origin)? {
        last_line = number;
        let mut fields = line.split_ascii_whitespace();
        let Some(word) = fields.next() else {
            continue;
        };
        let at = |message: String| Error::data(origin, number, message);
        if count == Some(records) {
            return Err(at(format!(
                "more vectors than the {records} the header announces"
            )));
        }
        values.clear();
        for (i, value) in fields.enumerate() {
            let value = value.parse::<f32>().map_err(|_| {
                at(format!(
                    "value {} of `{word}` is `{value}`, which is not a number",
                    i + 1
                ))
            })?;
            values.push(value);
        }
        if dim == 0 {
            if values.is_empty() {
                return Err(at(format!("`{word}` has no values")));
            }
            dim = values.len();
        } else if values.len() != dim {
            return Err(at(format!(
                "expected {dim} values after the word `{word}`, found {}",
                values.len()
            )));
        }
        rows.push(word.to_string(), &values, number).map_err(at)?;
        records += 1;
    }
    if let Some(count) = count.filter(|&count| count != records) {
        return Err(Error::data(
            origin,
            last_line,
            format!("the header announces {count} vectors, the file ends after {records}"),
        ));
    }
    if dim == 0 {
        return Err(Error::data(origin, 0, "no vectors found"));
    }
    rows.finish(dim)
}

/// The next line, decoded, with its number; lines longer than the data files' limit are errors.
fn next_text<R: BufRead>(
    lines: &mut Lines<'_, R>,
    utf8: Utf8,
    origin: &Path,
) -> Result<Option<(usize, String)>> {
    let Some((number, bytes)) = lines.next_raw()? else {
        return Ok(None);
    };
    decode(bytes, utf8)
        .map(|text| Some((number, text)))
        .map_err(|bad| Error::data(origin, number, format!("invalid UTF-8 at byte {}", bad + 1)))
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
    for (word, vector) in vectors.rows() {
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
