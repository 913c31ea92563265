//! CSV: a header naming the columns, then RFC 4180 records (quoted fields may hold commas,
//! quotes and line breaks).

use super::example::{example, Example, Sink};
use super::lines::{utf8_message, LineLimit, LineTooLong, BOM, MAX_LINE_BYTES};
use crate::error::{Error, Result};
use std::io::BufRead;
use std::path::Path;

pub(super) fn parse<R: BufRead>(
    reader: R,
    path: &Path,
    text_column: &str,
    label_column: &str,
    sink: &mut Sink,
) -> Result<()> {
    parse_with_limit(
        reader,
        path,
        text_column,
        label_column,
        sink,
        MAX_LINE_BYTES,
    )
}

pub(super) fn parse_with_limit<R: BufRead>(
    mut reader: R,
    path: &Path,
    text_column: &str,
    label_column: &str,
    sink: &mut Sink,
    limit: usize,
) -> Result<()> {
    // The csv crate does not skip a byte order mark, which would otherwise become part
    // of the first column name.
    let buf = reader
        .fill_buf()
        .map_err(|e| Error::io(path, "cannot read", e))?;
    if buf.starts_with(BOM) {
        reader.consume(BOM.len());
    }
    // Headers are handled here rather than by the csv crate so that whitespace-only lines
    // (one-field records) can be skipped before the header too; flexible for the same
    // reason, with field counts checked by hand below. Records are read as bytes so that a
    // field that is not UTF-8 is one bad record, not the end of the file.
    let mut csv = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(LineLimit::new(reader, limit));
    let mut record = ::csv::ByteRecord::new();
    let mut read = |record: &mut ::csv::ByteRecord| {
        csv.read_byte_record(record).map_err(|e| csv_error(path, e))
    };
    let (header_line, header) = loop {
        if !read(&mut record)? {
            return Ok(());
        }
        if is_blank(&record) {
            continue;
        }
        let line = record_line(&record);
        let fields = decode(&record, line).map_err(|message| Error::data(path, line, message))?;
        break (
            line,
            fields
                .iter()
                .map(|h| h.trim().to_string())
                .collect::<Vec<_>>(),
        );
    };
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            let found = header.join(", ");
            Error::data(
                path,
                header_line,
                format!("no column `{name}` in the header (columns found: {found})"),
            )
        })
    };
    let text_idx = column(text_column)?;
    let label_idx = column(label_column)?;

    while read(&mut record)? {
        if is_blank(&record) {
            continue;
        }
        let line = record_line(&record);
        let parsed = record_example(&record, line, header.len(), text_idx, label_idx)
            .map_err(|message| with_quote_hint(message, &record, line));
        sink.accept(line, parsed)?;
    }
    Ok(())
}

fn record_example(
    record: &::csv::ByteRecord,
    line: usize,
    columns: usize,
    text_idx: usize,
    label_idx: usize,
) -> std::result::Result<Example, String> {
    if record.len() != columns {
        return Err(format!(
            "expected {columns} fields as in the header, found {}",
            record.len()
        ));
    }
    let fields = decode(record, line)?;
    example(fields[label_idx], fields[text_idx])
}

fn decode(record: &::csv::ByteRecord, line: usize) -> std::result::Result<Vec<&str>, String> {
    record
        .iter()
        .enumerate()
        .map(|(i, field)| {
            std::str::from_utf8(field).map_err(|e| utf8_message(field, &e, line, Some(i)))
        })
        .collect()
}

/// A record that runs over several lines usually means a quote was opened and never closed.
fn with_quote_hint(message: String, record: &::csv::ByteRecord, line: usize) -> String {
    let breaks = record
        .iter()
        .map(|f| f.iter().filter(|&&b| b == b'\n').count())
        .sum::<usize>();
    if breaks == 0 {
        return message;
    }
    format!(
        "{message} (this record runs from line {line} to line {}: is a closing quote missing?)",
        line + breaks
    )
}

/// A whitespace-only line, which the csv crate reads as a record of one blank field.
fn is_blank(record: &::csv::ByteRecord) -> bool {
    record.len() == 1
        && record
            .get(0)
            .is_some_and(|f| std::str::from_utf8(f).is_ok_and(|f| f.trim().is_empty()))
}

fn record_line(record: &::csv::ByteRecord) -> usize {
    record.position().map_or(0, |p| p.line() as usize)
}

fn csv_error(path: &Path, e: ::csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line() as usize);
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => {
            match io.get_ref().and_then(|e| e.downcast_ref::<LineTooLong>()) {
                Some(long) => Error::data(path, long.line_no, long.to_string()),
                None => Error::io(path, "cannot read", io),
            }
        }
        other => Error::data(path, line, format!("malformed CSV: {other:?}")),
    }
}
