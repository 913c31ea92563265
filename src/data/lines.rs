//! Physical lines of a text file: UTF-8 checked, line ends and the byte order mark removed,
//! numbered from 1, and bounded in length so that no input can exhaust memory.

use crate::error::{Error, Result};
use std::io::{BufRead, Read};
use std::path::Path;

/// The longest line (or CSV physical line) read, in bytes: a text this long is more likely a
/// binary file or a lost line break than a review. Reading stops with an error as soon as a
/// line passes it, in lenient reads too, since the rest of such a line may never end.
pub const MAX_LINE_BYTES: usize = 256 << 20;

pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Lines with their 1-based numbers. A line that is not UTF-8 comes back as `Err(reason)` in
/// place of its text, so callers decide whether to fail or skip; a line longer than the limit
/// ends the reading with an error.
pub(crate) struct Lines<'p, R> {
    reader: R,
    path: &'p Path,
    buf: Vec<u8>,
    line_no: usize,
    limit: usize,
}

/// One numbered line: its text, or why it has none.
pub(super) type Line<'a> = (usize, std::result::Result<&'a str, String>);
/// One numbered line as bytes.
pub(crate) type RawLine<'a> = (usize, &'a [u8]);

impl<'p, R: BufRead> Lines<'p, R> {
    pub(crate) fn new(reader: R, path: &'p Path) -> Self {
        Self::with_limit(reader, path, MAX_LINE_BYTES)
    }

    pub(super) fn with_limit(reader: R, path: &'p Path, limit: usize) -> Self {
        Lines {
            reader,
            path,
            buf: Vec::new(),
            line_no: 0,
            limit,
        }
    }

    /// The next line's bytes, without its line end or (on line 1) byte order mark; `None` at
    /// the end, `Err` for I/O errors and a line longer than the limit.
    pub(crate) fn next_raw(&mut self) -> Result<Option<RawLine<'_>>> {
        self.buf.clear();
        let io = |e| Error::io(self.path, "cannot read", e);
        let n = (&mut self.reader)
            .take(self.limit as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(io)?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        if self.buf.len() > self.limit && self.buf.last() != Some(&b'\n') {
            // Stop right here: the rest of such a line may never end (`/dev/zero`), so it is
            // not read, not even to skip it.
            self.buf = Vec::new();
            let message = too_long_message(self.limit);
            return Err(Error::data(self.path, self.line_no, message));
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let start = if self.line_no == 1 && self.buf.starts_with(BOM) {
            BOM.len()
        } else {
            0
        };
        Ok(Some((self.line_no, &self.buf[start..])))
    }

    /// The next line as text; `None` at the end, `Err` for I/O errors and a line longer than
    /// the limit.
    pub(super) fn next_line(&mut self) -> Result<Option<Line<'_>>> {
        let Some((line_no, raw)) = self.next_raw()? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(raw).map_err(|e| utf8_message(raw, &e, line_no, None));
        Ok(Some((line_no, text)))
    }
}

/// Says where a line (or a CSV field) stops being UTF-8, with a hint for UTF-16 files.
pub(super) fn utf8_message(
    bytes: &[u8],
    e: &std::str::Utf8Error,
    line_no: usize,
    field: Option<usize>,
) -> String {
    let at = match field {
        Some(i) => format!("field {} at byte {}", i + 1, e.valid_up_to() + 1),
        None => format!("byte {}", e.valid_up_to() + 1),
    };
    let utf16 = line_no == 1 && (bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF"));
    if utf16 {
        format!("invalid UTF-8 at {at}: the file looks like UTF-16; save it as UTF-8")
    } else {
        format!("invalid UTF-8 at {at}: expected UTF-8 text")
    }
}

fn too_long_message(limit: usize) -> String {
    let size = if limit >= 1 << 20 {
        format!("{} MiB", limit >> 20)
    } else {
        format!("{limit} bytes")
    };
    format!("the line is longer than {size} (is this a text file with line breaks?)")
}

/// The first line with something on it, decoded leniently, for format sniffing. Bad lines
/// are reported with their number by the real parse.
pub(super) fn first_non_empty_line<R: BufRead>(reader: R, path: &Path) -> Result<String> {
    let mut lines = Lines::new(reader, path);
    while let Some((_, bytes)) = lines.next_raw()? {
        let line = String::from_utf8_lossy(bytes);
        if !line.trim().is_empty() {
            return Ok(line.into_owned());
        }
    }
    Ok(String::new())
}

/// A reader that fails, with [`LineTooLong`], once a physical line passes the limit; the CSV
/// reader buffers whole records, so this is what bounds its memory.
pub(super) struct LineLimit<R> {
    inner: R,
    limit: usize,
    /// Bytes since the last `\n`.
    run: usize,
    /// 1-based number of the line being read.
    line_no: usize,
}

/// The error [`LineLimit`] raises, carried inside an `io::Error`.
#[derive(Debug)]
pub(super) struct LineTooLong {
    pub(super) line_no: usize,
    pub(super) limit: usize,
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&too_long_message(self.limit))
    }
}

impl std::error::Error for LineTooLong {}

impl<R> LineLimit<R> {
    pub(super) fn new(inner: R, limit: usize) -> Self {
        LineLimit {
            inner,
            limit,
            run: 0,
            line_no: 1,
        }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line_no += 1;
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > self.limit {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        LineTooLong {
                            line_no: self.line_no,
                            limit: self.limit,
                        },
                    ));
                }
            }
        }
        Ok(n)
    }
}
