//! Labelled data files (TSV, CSV, JSON Lines, fastText) and plain prediction input.
//!
//! Every reader streams line by line, ignores a UTF-8 byte order mark, accepts CRLF line
//! ends, skips blank lines, and reports problems with the file name and the 1-based physical
//! line number. A lenient read ([`read_examples_with`] with [`LineChecks::skip_invalid`])
//! skips bad lines instead and returns them; problems with the whole file (it cannot be read,
//! a CSV header lacks a column, a line is longer than [`MAX_LINE_BYTES`], no example is left)
//! are errors either way.

mod csv;
mod example;
pub(crate) mod lines;

use crate::error::{Error, Result};
use example::{example, Sink};
use lines::Lines;
use std::io::{BufRead, BufReader, Seek};
use std::path::Path;

pub use example::{Example, LabelCheck, LineChecks, Skipped, SKIPPED_KEPT};
pub use lines::MAX_LINE_BYTES;

const FASTTEXT_PREFIX: &str = "__label__";

/// File formats for labelled data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `label<TAB>text` per line, no header; the text is everything after the first tab.
    Tsv,
    /// A header row naming the columns, then RFC 4180 records.
    Csv {
        /// Header name of the column holding the text.
        text_column: String,
        /// Header name of the column holding the label.
        label_column: String,
    },
    /// One `{"text": "...", "label": ...}` object per line; the label may be a string,
    /// number or boolean (numbers are kept as written, e.g. `1` -> `"1"`).
    Jsonl,
    /// `__label__pos some text`: the first `__label__` token is the label, further
    /// leading `__label__` tokens are dropped, and the rest is the text.
    FastText,
}

/// How [`read_examples`] should interpret a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The format, or `None` to detect it with [`detect_format`].
    pub format: Option<Format>,
    /// CSV column holding the text (used when the format is detected as CSV).
    pub text_column: String,
    /// CSV column holding the label (used when the format is detected as CSV).
    pub label_column: String,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            text_column: "text".to_string(),
            label_column: "label".to_string(),
        }
    }
}

/// Picks a format from the file extension, or failing that from the first non-empty line.
///
/// Extensions: `.tsv`, `.csv`, `.jsonl`/`.ndjson`/`.json`, `.ft`/`.fasttext` (any case).
/// Sniffing: `__label__` -> fastText, `{` -> JSON Lines, a tab -> TSV, anything else -> CSV.
pub fn detect_format(path: &Path, first_line: &str, opts: &ReadOptions) -> Format {
    if let Some(format) = format_from_extension(path, opts) {
        return format;
    }
    let line = first_line.trim_start_matches('\u{feff}').trim_start();
    if line.starts_with(FASTTEXT_PREFIX) {
        Format::FastText
    } else if line.starts_with('{') {
        Format::Jsonl
    } else if line.contains('\t') {
        Format::Tsv
    } else {
        csv_format(opts)
    }
}

fn csv_format(opts: &ReadOptions) -> Format {
    Format::Csv {
        text_column: opts.text_column.clone(),
        label_column: opts.label_column.clone(),
    }
}

fn format_from_extension(path: &Path, opts: &ReadOptions) -> Option<Format> {
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    match ext.as_str() {
        "tsv" => Some(Format::Tsv),
        "csv" => Some(csv_format(opts)),
        "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
        "ft" | "fasttext" => Some(Format::FastText),
        _ => None,
    }
}

/// Reads the labelled examples of `path`, detecting the format unless `opts` names one.
/// The first bad line is an error naming the file and the line.
pub fn read_examples(path: &Path, opts: &ReadOptions) -> Result<Vec<Example>> {
    Ok(read_examples_with(path, opts, &LineChecks::default())?.0)
}

/// [`read_examples`] with per-line checks; bad lines fail or are skipped as `checks` says.
pub fn read_examples_with(
    path: &Path,
    opts: &ReadOptions,
    checks: &LineChecks,
) -> Result<(Vec<Example>, Skipped)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
    let mut reader = BufReader::new(file);
    let format = match &opts.format {
        Some(format) => format.clone(),
        None => match format_from_extension(path, opts) {
            Some(format) => format,
            None => {
                // Sniffing consumes lines, so look first and rewind to parse from the start.
                let first = lines::first_non_empty_line(&mut reader, path)?;
                reader
                    .rewind()
                    .map_err(|e| Error::io(path, "cannot read", e))?;
                detect_format(path, &first, opts)
            }
        },
    };
    parse_examples_with(reader, path, &format, checks)
}

/// Parses labelled examples in `format` from `reader`; `path` is used only in messages.
pub fn parse_examples<R: BufRead>(reader: R, path: &Path, format: &Format) -> Result<Vec<Example>> {
    Ok(parse_examples_with(reader, path, format, &LineChecks::default())?.0)
}

/// [`parse_examples`] with per-line checks; bad lines fail or are skipped as `checks` says.
pub fn parse_examples_with<R: BufRead>(
    reader: R,
    path: &Path,
    format: &Format,
    checks: &LineChecks,
) -> Result<(Vec<Example>, Skipped)> {
    let mut sink = Sink::new(path, checks);
    match format {
        Format::Csv {
            text_column,
            label_column,
        } => csv::parse(reader, path, text_column, label_column, &mut sink)?,
        Format::Tsv | Format::Jsonl | Format::FastText => {
            let mut lines = Lines::new(reader, path);
            while let Some((line_no, line)) = lines.next_line()? {
                let parsed = line.and_then(|line| {
                    if line.trim().is_empty() {
                        return Ok(None);
                    }
                    match format {
                        Format::Tsv => parse_tsv_line(line),
                        Format::Jsonl => parse_jsonl_line(line),
                        _ => parse_fasttext_line(line),
                    }
                    .map(Some)
                });
                if let Some(parsed) = parsed.transpose() {
                    sink.accept(line_no, parsed)?;
                }
            }
        }
    }
    sink.finish()
}

/// Reads plain texts for prediction, one per line. Every line is kept, empty ones
/// included, so that output line `i` answers input line `i`; only the line end (`\n`
/// or `\r\n`) and a leading byte order mark are removed.
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
    let mut out = Vec::new();
    each_line(BufReader::new(file), path, |line| {
        out.push(line.to_string());
        Ok::<(), Error>(())
    })?;
    Ok(out)
}

/// Streams plain texts, one per line, to `f`: the reading of [`read_lines`] (BOM, CRLF, line-length
/// cap, UTF-8 errors naming `origin` and the line) without holding the input in memory.
pub fn each_line<R: BufRead, E: From<Error>>(
    reader: R,
    origin: &Path,
    mut f: impl FnMut(&str) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut lines = Lines::new(reader, origin);
    while let Some((line_no, line)) = lines.next_line()? {
        f(line.map_err(|message| Error::data(origin, line_no, message))?)?;
    }
    Ok(())
}

/// The distinct labels of `examples`, numerically sorted if every label is an integer
/// (so `"2" < "10"`), otherwise lexicographically.
pub fn label_set(examples: &[Example]) -> Vec<String> {
    let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    labels.sort_unstable();
    labels.dedup();
    let numbers: Option<Vec<i128>> = labels.iter().map(|l| l.parse().ok()).collect();
    if let Some(numbers) = numbers {
        let mut pairs: Vec<(i128, String)> = numbers.into_iter().zip(labels).collect();
        // Ties ("1" vs "01") fall back to the string so the order stays deterministic.
        pairs.sort();
        labels = pairs.into_iter().map(|(_, l)| l).collect();
    }
    labels
}

/// How many labels [`label_list`] names before it only counts the rest.
pub const LISTED_LABELS: usize = 20;

/// `labels` joined by `, ` for a message; past [`LISTED_LABELS`] the rest are only counted, so
/// that a message about data with thousands of labels stays one readable line.
pub fn label_list<S: AsRef<str>>(labels: &[S]) -> String {
    let shown: Vec<&str> = labels
        .iter()
        .take(LISTED_LABELS)
        .map(AsRef::as_ref)
        .collect();
    let mut list = shown.join(", ");
    if labels.len() > LISTED_LABELS {
        list.push_str(&format!(
            ", ... ({} more, {} in all)",
            labels.len() - LISTED_LABELS,
            labels.len()
        ));
    }
    list
}

fn parse_tsv_line(line: &str) -> std::result::Result<Example, String> {
    let (label, text) = line
        .split_once('\t')
        .ok_or_else(|| "expected `label<TAB>text`, found no tab".to_string())?;
    example(label, text)
}

fn parse_fasttext_line(line: &str) -> std::result::Result<Example, String> {
    let mut rest = line.trim_start();
    let mut label = None;
    while let Some(after) = rest.strip_prefix(FASTTEXT_PREFIX) {
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        label.get_or_insert(&after[..end]);
        rest = after[end..].trim_start();
    }
    match label {
        Some(label) => example(label, rest),
        None => Err(format!("expected a `{FASTTEXT_PREFIX}` prefix")),
    }
}

fn parse_jsonl_line(line: &str) -> std::result::Result<Example, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
        if line.trim_start().starts_with('[') {
            return "expected one JSON object per line (JSON Lines), found an array".to_string();
        }
        // serde_json appends "at line 1 column N", which would contradict our line number.
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let reason = full.strip_suffix(&suffix).unwrap_or(&full);
        format!("invalid JSON at column {}: {reason}", e.column())
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| "expected a JSON object".to_string())?;
    let text = match object.get("text") {
        None => return Err("missing \"text\" key".to_string()),
        Some(serde_json::Value::String(s)) => s.as_str(),
        Some(_) => return Err("\"text\" must be a string".to_string()),
    };
    let label = match object.get("label") {
        None => return Err("missing \"label\" key".to_string()),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(serde_json::Value::Bool(b)) => b.to_string(),
        Some(_) => return Err("\"label\" must be a string, number or boolean".to_string()),
    };
    example(&label, text)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, name: &str, format: &Format) -> Result<Vec<Example>> {
        parse_examples(text.as_bytes(), Path::new(name), format)
    }

    fn ex(label: &str, text: &str) -> Example {
        Example {
            text: text.to_string(),
            label: label.to_string(),
        }
    }

    fn csv() -> Format {
        csv_format(&ReadOptions::default())
    }

    #[test]
    fn tsv_splits_at_first_tab_and_skips_blank_lines() {
        let got = parse("pos\tgood\tfun \n\n  \nneg\t\n", "a.tsv", &Format::Tsv).unwrap();
        assert_eq!(got, vec![ex("pos", "good\tfun"), ex("neg", "")]);
    }

    #[test]
    fn bom_and_crlf_are_ignored() {
        let got = parse("\u{feff}pos\tgood\r\nneg\tbad\r\n", "a.tsv", &Format::Tsv).unwrap();
        assert_eq!(got, vec![ex("pos", "good"), ex("neg", "bad")]);
        let input = "\u{feff}\"text\",label\r\nnice,1\r\n";
        assert_eq!(
            parse(input, "a.csv", &csv()).unwrap(),
            vec![ex("1", "nice")]
        );
    }

    #[test]
    fn bad_tsv_line_names_file_and_line() {
        let err = parse("pos\tgood\n\nno tab here\n", "train.tsv", &Format::Tsv).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("train.tsv:3:"), "{msg}");
        assert!(msg.contains("label<TAB>text"), "{msg}");
        let err = parse(" \tgood\n", "train.tsv", &Format::Tsv).unwrap_err();
        assert!(err.to_string().contains("train.tsv:1: empty label"));
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let bytes: &[u8] = b"pos\tok\nneg\t\xff\xfe\n";
        let err = parse_examples(bytes, Path::new("x.tsv"), &Format::Tsv).unwrap_err();
        assert!(
            err.to_string().starts_with("x.tsv:2: invalid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn empty_input_is_an_error_naming_the_file() {
        let err = parse("\n  \n", "empty.tsv", &Format::Tsv).unwrap_err();
        assert_eq!(err.to_string(), "empty.tsv: no examples found");
        let err = parse("", "empty.csv", &csv()).unwrap_err();
        assert_eq!(err.to_string(), "empty.csv: no examples found");
        let err = parse("text,label\n", "head.csv", &csv()).unwrap_err();
        assert_eq!(err.to_string(), "head.csv: no examples found");
    }

    #[test]
    fn jsonl_accepts_string_number_and_bool_labels() {
        let input =
            "{\"text\": \" great \", \"label\": \"pos\"}\n{\"text\": \"meh\", \"label\": 1}\n\
                     {\"label\": false, \"text\": \"\"}\n";
        let got = parse(input, "a.jsonl", &Format::Jsonl).unwrap();
        assert_eq!(
            got,
            vec![ex("pos", "great"), ex("1", "meh"), ex("false", "")]
        );
    }

    #[test]
    fn jsonl_errors_say_what_is_wrong() {
        let cases = [
            ("{\"text\": \"a\"}", "a.jsonl:1: missing \"label\" key"),
            ("{\"label\": 1}", "a.jsonl:1: missing \"text\" key"),
            ("{\"text\": \"a\", ", "a.jsonl:1: invalid JSON"),
            ("[1, 2]", "a.jsonl:1: expected a JSON object"),
            (
                "{\"text\": \"a\", \"label\": \"\"}",
                "a.jsonl:1: empty label",
            ),
        ];
        for (input, want) in cases {
            let err = parse(input, "a.jsonl", &Format::Jsonl).unwrap_err();
            assert!(err.to_string().starts_with(want), "{input}: {err}");
        }
    }

    #[test]
    fn fasttext_takes_first_label_and_drops_the_others() {
        let input = "__label__pos __label__extra  very good\n__label__neg\tbad  film \n";
        let got = parse(input, "a.ft", &Format::FastText).unwrap();
        assert_eq!(got, vec![ex("pos", "very good"), ex("neg", "bad  film")]);
        let err = parse("pos good\n", "a.ft", &Format::FastText).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("a.ft:1: expected a `__label__`"));
        let err = parse("__label__ good\n", "a.ft", &Format::FastText).unwrap_err();
        assert!(err.to_string().starts_with("a.ft:1: empty label"));
    }

    #[test]
    fn csv_handles_quoted_commas_and_embedded_newlines() {
        let input = "id,text,label\n1,\"good, really\",pos\n2,\"two\nlines\",neg\n\n3,plain,neu\n";
        let got = parse(input, "a.csv", &csv()).unwrap();
        let want = vec![
            ex("pos", "good, really"),
            ex("neg", "two\nlines"),
            ex("neu", "plain"),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn csv_errors_name_columns_and_record_lines() {
        let err = parse("review,stars\na,1\n", "r.csv", &csv()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("r.csv:1: no column `text`"), "{msg}");
        assert!(msg.contains("review, stars"), "{msg}");
        let input = "text,label\n\"a\nb\",pos\nonly-one-field\n";
        let err = parse(input, "r.csv", &csv()).unwrap_err();
        assert!(
            err.to_string().starts_with("r.csv:4: expected 2 fields"),
            "{err}"
        );
        let err = parse("text,label\nok,\n", "r.csv", &csv()).unwrap_err();
        assert!(err.to_string().starts_with("r.csv:2: empty label"), "{err}");
        let bytes: &[u8] = b"text,label\nok,pos\n\"bad\xff\",neg\n";
        let err = parse_examples(bytes, Path::new("r.csv"), &csv()).unwrap_err();
        assert!(
            err.to_string().starts_with("r.csv:3: invalid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn csv_skips_whitespace_only_lines_before_and_after_the_header() {
        let got = parse("  \n\ntext,label\n \nok,pos\n", "a.csv", &csv()).unwrap();
        assert_eq!(got, vec![ex("pos", "ok")]);
        let err = parse("  \n\n", "a.csv", &csv()).unwrap_err();
        assert_eq!(err.to_string(), "a.csv: no examples found");
    }

    #[test]
    fn detects_by_extension_then_by_content() {
        let opts = ReadOptions::default();
        let detect = |name: &str, line: &str| detect_format(Path::new(name), line, &opts);
        assert_eq!(detect("a.TSV", "x,y"), Format::Tsv);
        assert_eq!(detect("a.ndjson", ""), Format::Jsonl);
        assert_eq!(detect("a.fasttext", ""), Format::FastText);
        assert_eq!(detect("a.txt", "__label__a b"), Format::FastText);
        assert_eq!(detect("a.txt", "  {\"text\": 1}"), Format::Jsonl);
        assert_eq!(detect("a", "pos\thi"), Format::Tsv);
        assert_eq!(detect("a.txt", "text,label"), csv());
    }

    #[test]
    fn read_examples_sniffs_files_and_reports_io_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.txt");
        std::fs::write(&path, "\n__label__pos good\n__label__neg bad\n").unwrap();
        let got = read_examples(&path, &ReadOptions::default()).unwrap();
        assert_eq!(got, vec![ex("pos", "good"), ex("neg", "bad")]);

        let missing = dir.path().join("missing.tsv");
        let err = read_examples(&missing, &ReadOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(err.to_string().contains("missing.tsv"));
        let err = read_examples(dir.path(), &ReadOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(matches!(read_lines(dir.path()), Err(Error::Io { .. })));
    }

    #[test]
    fn read_lines_keeps_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "\u{feff}first\r\n\n  \nlast").unwrap();
        let got = read_lines(&path).unwrap();
        assert_eq!(got, vec!["first", "", "  ", "last"]);
    }

    #[test]
    fn skip_invalid_keeps_good_lines_and_counts_the_bad() {
        let input = "pos\tgood\nno tab\n\tx\n\nneg\tbad\n";
        let checks = LineChecks {
            skip_invalid: true,
            label: None,
        };
        let (got, skipped) =
            parse_examples_with(input.as_bytes(), Path::new("a.tsv"), &Format::Tsv, &checks)
                .unwrap();
        assert_eq!(got, vec![ex("pos", "good"), ex("neg", "bad")]);
        assert_eq!(skipped.count, 2);
        let reasons: Vec<String> = skipped.first.iter().map(|e| e.to_string()).collect();
        assert!(reasons[0].starts_with("a.tsv:2: expected `label<TAB>text`"));
        assert_eq!(reasons[1], "a.tsv:3: empty label");

        let err = parse_examples_with(&b"x\ny\n"[..], Path::new("a.tsv"), &Format::Tsv, &checks)
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("a.tsv: no examples found: all 2"), "{msg}");
    }

    #[test]
    fn skipped_keeps_the_first_reasons_and_counts_all() {
        let input = "bad\n".repeat(SKIPPED_KEPT + 5) + "pos\tok\n";
        let checks = LineChecks {
            skip_invalid: true,
            label: None,
        };
        let (_, skipped) =
            parse_examples_with(input.as_bytes(), Path::new("a"), &Format::Tsv, &checks).unwrap();
        assert_eq!(skipped.count, SKIPPED_KEPT + 5);
        assert_eq!(skipped.first.len(), SKIPPED_KEPT);
    }

    #[test]
    fn label_check_names_the_line() {
        let known = |l: &str| {
            if l == "pos" || l == "neg" {
                Ok(())
            } else {
                Err(format!("unknown label `{l}`"))
            }
        };
        let checks = LineChecks {
            skip_invalid: false,
            label: Some(&known),
        };
        let input = "text,label\nok,pos\nmeh,neutral\n";
        let err =
            parse_examples_with(input.as_bytes(), Path::new("d.csv"), &csv(), &checks).unwrap_err();
        assert_eq!(err.to_string(), "d.csv:3: unknown label `neutral`");
    }

    #[test]
    fn an_over_long_line_stops_the_reading() {
        let input = format!("a\n{}\nb\n", "x".repeat(100));
        let mut lines = Lines::with_limit(input.as_bytes(), Path::new("f"), 10);
        assert_eq!(lines.next_line().unwrap().unwrap(), (1, Ok("a")));
        let err = lines.next_line().unwrap_err().to_string();
        assert!(
            err.starts_with("f:2: the line is longer than 10 bytes"),
            "{err}"
        );
        // Exactly at the limit is fine.
        let mut lines = Lines::with_limit(&b"0123456789\n"[..], Path::new("f"), 10);
        assert_eq!(lines.next_line().unwrap().unwrap(), (1, Ok("0123456789")));

        let input = format!("text,label\nok,pos\n\"{}\",neg\n", "x".repeat(100));
        let checks = LineChecks::default();
        let mut sink = Sink::new(Path::new("l.csv"), &checks);
        let err = csv::parse_with_limit(
            input.as_bytes(),
            Path::new("l.csv"),
            "text",
            "label",
            &mut sink,
            50,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("l.csv:3: the line is longer than 50 bytes"),
            "{err}"
        );
    }

    #[test]
    fn utf16_files_get_a_hint() {
        let bytes: &[u8] = b"\xFF\xFEp\x00o\x00s\x00\t\x00";
        let err = parse_examples(bytes, Path::new("u.tsv"), &Format::Tsv).unwrap_err();
        assert!(err.to_string().contains("looks like UTF-16"), "{err}");
    }

    #[test]
    fn csv_unclosed_quote_is_reported_with_a_hint() {
        let input = "text,label\nfine,pos\n\"never closed,neg\nmore,pos\n";
        let err = parse(input, "q.csv", &csv()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("q.csv:3: expected 2 fields"), "{msg}");
        assert!(msg.contains("closing quote missing"), "{msg}");
        let input = "text,label\nfine,\"pos\nmore,neg\n";
        let err = parse(input, "q.csv", &csv()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("q.csv:2: the label contains a line break"),
            "{msg}"
        );
        assert!(msg.contains("closing quote missing"), "{msg}");
    }

    #[test]
    fn csv_bad_utf8_record_can_be_skipped() {
        let bytes: &[u8] = b"text,label\n\"bad\xff\",neg\nok,pos\n";
        let checks = LineChecks {
            skip_invalid: true,
            label: None,
        };
        let (got, skipped) =
            parse_examples_with(bytes, Path::new("r.csv"), &csv(), &checks).unwrap();
        assert_eq!(got, vec![ex("pos", "ok")]);
        assert!(skipped.first[0]
            .to_string()
            .starts_with("r.csv:2: invalid UTF-8 at field 1"));
    }

    #[test]
    fn label_lists_are_cut_after_a_readable_number() {
        assert_eq!(label_list(&["a", "b"]), "a, b");
        let many: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
        let list = label_list(&many);
        assert!(list.starts_with("0, 1, 2,"), "{list}");
        assert!(
            list.ends_with("19, ... (9980 more, 10000 in all)"),
            "{list}"
        );
    }

    #[test]
    fn label_set_orders_numbers_numerically() {
        let of = |labels: &[&str]| {
            let examples: Vec<Example> = labels.iter().map(|l| ex(l, "")).collect();
            label_set(&examples)
        };
        assert_eq!(of(&["10", "2", "-1", "2"]), vec!["-1", "2", "10"]);
        assert_eq!(
            of(&["pos", "10", "2", "neg"]),
            vec!["10", "2", "neg", "pos"]
        );
        assert!(of(&[]).is_empty());
    }
}
