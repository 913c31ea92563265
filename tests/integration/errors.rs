//! Bad input gets a clear error, never a panic: one table row per case of messy data files, each
//! asserting the message's key facts (file, line, expected vs found); labels that cannot train;
//! the CLI's `--skip-invalid`; devices the CLI cannot use. (A model that does not load: see
//! `load_errors`.)

use crate::common::{
    args, assert_mentions, chain, ex, failure, run, sentiment_tsv, stderr, tiny_classifier,
    tiny_train_args, train_quietly,
};
use lstm_sentiment::data::{self, LineChecks};
use lstm_sentiment::{Example, Format, ReadOptions, TrainConfig};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// Data files
// ---------------------------------------------------------------------------------------------

#[test]
fn messy_data_files_are_read_correctly() {
    let csv_crlf_bom = "\u{feff}text,label\r\n\"good, really\",pos\r\n\r\nbad,neg\r\n";
    /// (label, text) of the examples a file must give.
    type Want = &'static [(&'static str, &'static str)];
    // What every file gives but the CSV and the JSON Lines one.
    const GOOD_BAD: Want = &[("pos", "good"), ("neg", "bad")];
    let cases: [(&str, &str, &str, Want); 7] = [
        ("CRLF line ends", "crlf.tsv", "pos\tgood\r\nneg\tbad\r\n", GOOD_BAD),
        ("byte order mark", "bom.tsv", "\u{feff}pos\tgood\nneg\tbad\n", GOOD_BAD),
        ("empty and blank lines", "blank.tsv", "\n\npos\tgood\n  \n\t\nneg\tbad\n\n", GOOD_BAD),
        (
            "CSV with BOM, CRLF and a blank line",
            "a.csv",
            csv_crlf_bom,
            &[("pos", "good, really"), ("neg", "bad")],
        ),
        (
            "JSON Lines with BOM and CRLF",
            "a.jsonl",
            "\u{feff}{\"text\": \"good\", \"label\": 1}\r\n\r\n{\"text\": \"bad\", \"label\": 0}\r\n",
            &[("1", "good"), ("0", "bad")],
        ),
        (
            "fastText with BOM and CRLF",
            "a.ft",
            "\u{feff}__label__pos good\r\n\r\n__label__neg bad\r\n",
            GOOD_BAD,
        ),
        ("no last line end", "end.tsv", "pos\tgood\nneg\tbad", GOOD_BAD),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (case, name, content, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let got = lstm_sentiment::read_examples(&path, &ReadOptions::default())
            .unwrap_or_else(|e| panic!("{case}: {}", chain(&e)));
        let want: Vec<Example> = want.iter().map(|(label, text)| ex(label, text)).collect();
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn bad_data_files_name_the_file_the_line_and_what_was_expected() {
    let cases: [(&str, &str, &[u8], &[&str]); 16] = [
        (
            "invalid UTF-8",
            "utf8.tsv",
            b"pos\tok\nneg\tbad \xff text\n",
            &["utf8.tsv:2:", "invalid UTF-8 at byte 9", "expected UTF-8"],
        ),
        (
            "UTF-16",
            "utf16.tsv",
            b"\xff\xfep\x00o\x00s\x00\t\x00",
            &["utf16.tsv:1:", "looks like UTF-16"],
        ),
        (
            "a TSV line with no tab",
            "tab.tsv",
            b"pos\tok\n\nno tab here\n",
            &["tab.tsv:3:", "expected `label<TAB>text`, found no tab"],
        ),
        (
            "a fastText line with no label",
            "a.ft",
            b"__label__pos ok\nno label\n",
            &["a.ft:2:", "expected a `__label__` prefix"],
        ),
        (
            "a CSV record with no separator",
            "sep.csv",
            b"text,label\nok,pos\njust text\n",
            &["sep.csv:3:", "expected 2 fields as in the header, found 1"],
        ),
        (
            "a JSON line that is not JSON",
            "a.jsonl",
            b"{\"text\": \"ok\", \"label\": 1}\n{\"text\": \"ok\" \"label\": 1}\n",
            &["a.jsonl:2:", "invalid JSON at column"],
        ),
        (
            "an empty TSV label",
            "empty.tsv",
            b"pos\tok\n \tno label\n",
            &["empty.tsv:2:", "empty label"],
        ),
        (
            "an empty CSV label",
            "empty.csv",
            b"text,label\nok,pos\nno label,\n",
            &["empty.csv:3:", "empty label"],
        ),
        (
            "an empty JSON label",
            "empty.jsonl",
            b"{\"text\": \"ok\", \"label\": \"\"}\n",
            &["empty.jsonl:1:", "empty label"],
        ),
        (
            "an empty fastText label",
            "empty.ft",
            b"__label__ text\n",
            &["empty.ft:1:", "empty label"],
        ),
        (
            "broken CSV quoting: a quote never closed",
            "quote.csv",
            b"text,label\nok,pos\n\"never closed,neg\nmore,pos\nand more,neg\n",
            &[
                "quote.csv:3:",
                "expected 2 fields as in the header, found 1",
                "runs from line 3 to line 6",
                "closing quote missing",
            ],
        ),
        (
            "broken CSV quoting: a quoted label never closed",
            "label-quote.csv",
            b"text,label\nok,\"pos\nmore,neg\n",
            &[
                "label-quote.csv:2:",
                "the label contains a line break",
                "closing quote missing",
            ],
        ),
        (
            "a CSV header missing the label column",
            "column.csv",
            b"text,stars\nok,5\n",
            &[
                "column.csv:1:",
                "no column `label` in the header",
                "columns found: text, stars",
            ],
        ),
        (
            "a JSON line missing the label key",
            "key.jsonl",
            b"{\"text\": \"ok\"}\n",
            &["key.jsonl:1:", "missing \"label\" key"],
        ),
        (
            "an empty file",
            "nothing.tsv",
            b"",
            &["nothing.tsv: no examples found"],
        ),
        (
            "only blank lines",
            "blank.csv",
            b"\n \r\n\n",
            &["blank.csv: no examples found"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (case, name, content, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let err = lstm_sentiment::read_examples(&path, &ReadOptions::default()).unwrap_err();
        assert!(
            matches!(err, lstm_sentiment::Error::Data { .. }),
            "{case}: {err:?}"
        );
        assert_mentions(case, &chain(&err), want);
    }
}

#[test]
fn missing_files_and_directories_are_io_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tsv");
    let sub = dir.path().join("data.tsv");
    std::fs::create_dir(&sub).unwrap();
    let cases = [
        ("a file that does not exist", missing, "No such file"),
        ("a directory given as a file", sub, "Is a directory"),
    ];
    for (case, path, reason) in cases {
        let err = lstm_sentiment::read_examples(&path, &ReadOptions::default()).unwrap_err();
        assert!(matches!(err, lstm_sentiment::Error::Io { .. }), "{case}");
        let want = vec![
            format!("{}: cannot read", path.display()),
            reason.to_string(),
        ];
        assert_mentions(case, &chain(&err), &want);
    }
}

#[test]
fn unknown_labels_are_reported_with_their_line() {
    let known = |label: &str| match label {
        "pos" | "neg" => Ok(()),
        other => Err(format!("unknown label `{other}`: expected pos or neg")),
    };
    let checks = LineChecks {
        skip_invalid: false,
        label: Some(&known),
    };
    let input = "pos\tgood\n\nneutral\tmeh\n";
    let err =
        data::parse_examples_with(input.as_bytes(), Path::new("u.tsv"), &Format::Tsv, &checks)
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "u.tsv:3: unknown label `neutral`: expected pos or neg"
    );
}

#[test]
fn only_one_label_is_refused_by_training() {
    let examples = vec![ex("pos", "good"), ex("pos", "great"), ex("pos", "fine")];
    let err = train_quietly(&examples, None, &TrainConfig::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("every example has the label `pos`")
            && message.contains("at least two labels"),
        "{message}"
    );
}

#[test]
fn a_line_of_50_mb_is_read_and_predicted_in_bounded_work() {
    const SIZE: usize = 50 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.tsv");
    let mut content = Vec::with_capacity(SIZE + 64);
    content.extend_from_slice(b"positive\t");
    while content.len() < SIZE {
        content.extend_from_slice(b"a good film ");
    }
    content.extend_from_slice(b"\nnegative\tbad film\n");
    std::fs::write(&path, &content).unwrap();
    drop(content);

    let examples = lstm_sentiment::read_examples(&path, &ReadOptions::default()).unwrap();
    assert_eq!(examples.len(), 2);
    assert!(examples[0].text.len() > SIZE - 20);
    assert!(examples[0].text.starts_with("a good film a good"));
    assert_eq!(examples[1], ex("negative", "bad film"));

    // Tokenizing stops near the model's max_length, so this is quick.
    let classifier = tiny_classifier(&["good", "bad"]);
    let max = classifier.config().max_length;
    let long = classifier.predict(&examples[0].text).unwrap();
    let head: String = examples[0].text.chars().take(max * 20).collect();
    assert_eq!(long, classifier.predict(&head).unwrap());
}

#[test]
fn cli_train_names_the_file_with_one_label_and_dev_labels_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.tsv"), "pos\tgood\npos\tfine\n").unwrap();
    let out = run(dir.path(), &args("train --train one.tsv --out m -q"));
    assert_mentions(
        "one label",
        &failure(&out, 1),
        &[
            "one.tsv: invalid configuration: every example has the label `pos`",
            "at least two",
        ],
    );

    std::fs::write(dir.path().join("train.tsv"), sentiment_tsv(20)).unwrap();
    std::fs::write(dir.path().join("dev.tsv"), "positive\tgood\nneutral\tmeh\n").unwrap();
    let out = run(
        dir.path(),
        &args("train --train train.tsv --dev dev.tsv --out m -q"),
    );
    assert_mentions(
        "dev label",
        &failure(&out, 1),
        &[
            "dev.tsv:2: label `neutral` never occurs in the training data train.tsv",
            "its labels: negative, positive",
        ],
    );
}

#[test]
fn cli_skip_invalid_skips_counts_and_shows_the_first_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut train_data = String::from("no tab here\n");
    train_data.push_str(&sentiment_tsv(30));
    train_data.push_str("\tempty label\n");
    std::fs::write(dir.path().join("train.tsv"), &train_data).unwrap();
    let train = tiny_train_args("m", "1", &["--no-checkpoint", "-q"]);
    let out = run(dir.path(), &train);
    assert_eq!(out.status.code(), Some(1), "without --skip-invalid");
    assert_mentions("strict", &stderr(&out), &["train.tsv:1:"]);

    let out = run(dir.path(), &[&train[..], &["--skip-invalid"]].concat());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_mentions(
        "train --skip-invalid",
        &err,
        &[
            "skipped 2 invalid line(s) of train.tsv, kept 30",
            "train.tsv:1: expected `label<TAB>text`",
            "train.tsv:32: empty label",
        ],
    );

    let mut eval_data = sentiment_tsv(6);
    for i in 0..7 {
        eval_data.push_str(&format!("neutral\tline {i}\n"));
    }
    std::fs::write(dir.path().join("eval.tsv"), &eval_data).unwrap();
    let eval = args("eval --model m --data eval.tsv --json");
    let out = run(dir.path(), &eval);
    assert_mentions(
        "eval strict",
        &failure(&out, 1),
        &[
            "eval.tsv:7: unknown label `neutral`",
            "the model's labels are negative, positive",
        ],
    );
    let out = run(dir.path(), &[&eval[..], &["--skip-invalid"]].concat());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_mentions(
        "eval --skip-invalid",
        &err,
        &[
            "skipped 7 invalid line(s) of eval.tsv, kept 6",
            "eval.tsv:7: unknown label",
            "eval.tsv:11: unknown label",
            "... and 2 more",
        ],
    );
    assert!(!err.contains("eval.tsv:12:"), "only the first five: {err}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["n"], 6);
}

#[test]
fn cli_names_a_device_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--device", "tpu", "predict", "good"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    assert_mentions(
        "unknown device",
        &stderr(&out),
        &["tpu", "cpu, cuda or cuda:N"],
    );
    if cfg!(not(feature = "cuda")) {
        let out = run(dir.path(), &["predict", "--device", "cuda:1", "good"]);
        assert!(!out.status.success());
        assert_mentions("no cuda", &stderr(&out), &["cuda:1", "--features cuda"]);
    }
}
