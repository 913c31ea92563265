//! Bad input gets a clear error, never a panic: one table row per case of messy data files and
//! broken model directories, each asserting the message's key facts (file, line or tensor,
//! expected vs found). Also the CLI's `--skip-invalid`, and one regression test per bug found by
//! fuzzing (see scripts/dev/fuzz.sh).

mod common;

use candle_core::{DType, Device, Tensor};
use common::{run, stderr};
use lstm_sentiment::data::{self, LineChecks};
use lstm_sentiment::tokenizer::TextTokenizer;
use lstm_sentiment::{train, Classifier, Example, Format, ReadOptions, TrainConfig};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The error and its sources, as the CLI prints them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn assert_mentions(case: &str, message: &str, want: &[String]) {
    for fragment in want {
        assert!(
            message.contains(fragment.as_str()),
            "{case}: expected `{fragment}` in the message\n  {message}"
        );
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn ex(label: &str, text: &str) -> Example {
    Example {
        text: text.to_string(),
        label: label.to_string(),
    }
}

/// A tiny trained model (labels `negative`, `positive`), trained once per test binary.
fn tiny_model() -> &'static Classifier {
    static MODEL: OnceLock<Classifier> = OnceLock::new();
    MODEL.get_or_init(|| {
        let examples: Vec<Example> = (0..40)
            .map(|i| {
                let positive = i % 2 == 0;
                ex(
                    if positive { "positive" } else { "negative" },
                    &format!("{} film {}", if positive { "good" } else { "bad" }, i % 5),
                )
            })
            .collect();
        let config = TrainConfig {
            embedding_dim: 4,
            hidden_size: 3,
            epochs: 1,
            ..TrainConfig::default()
        };
        train(&examples, None, &config, &mut |_| ControlFlow::Continue(()))
            .unwrap()
            .0
    })
}

/// Lines of a small two-label TSV task.
fn tsv_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            let positive = i % 2 == 0;
            format!(
                "{}\t{} film {}\n",
                if positive { "positive" } else { "negative" },
                if positive { "good" } else { "bad" },
                i % 3
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Data files
// ---------------------------------------------------------------------------------------------

#[test]
fn messy_data_files_are_read_correctly() {
    let csv_crlf_bom = "\u{feff}text,label\r\n\"good, really\",pos\r\n\r\nbad,neg\r\n";
    let cases: [(&str, &str, &str, Vec<Example>); 7] = [
        (
            "CRLF line ends",
            "crlf.tsv",
            "pos\tgood\r\nneg\tbad\r\n",
            vec![ex("pos", "good"), ex("neg", "bad")],
        ),
        (
            "byte order mark",
            "bom.tsv",
            "\u{feff}pos\tgood\nneg\tbad\n",
            vec![ex("pos", "good"), ex("neg", "bad")],
        ),
        (
            "empty and blank lines",
            "blank.tsv",
            "\n\npos\tgood\n  \n\t\nneg\tbad\n\n",
            vec![ex("pos", "good"), ex("neg", "bad")],
        ),
        (
            "CSV with BOM, CRLF and a blank line",
            "a.csv",
            csv_crlf_bom,
            vec![ex("pos", "good, really"), ex("neg", "bad")],
        ),
        (
            "JSON Lines with BOM and CRLF",
            "a.jsonl",
            "\u{feff}{\"text\": \"good\", \"label\": 1}\r\n\r\n{\"text\": \"bad\", \"label\": 0}\r\n",
            vec![ex("1", "good"), ex("0", "bad")],
        ),
        (
            "fastText with BOM and CRLF",
            "a.ft",
            "\u{feff}__label__pos good\r\n\r\n__label__neg bad\r\n",
            vec![ex("pos", "good"), ex("neg", "bad")],
        ),
        (
            "no last line end",
            "end.tsv",
            "pos\tgood\nneg\tbad",
            vec![ex("pos", "good"), ex("neg", "bad")],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (case, name, content, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let got = lstm_sentiment::read_examples(&path, &ReadOptions::default())
            .unwrap_or_else(|e| panic!("{case}: {}", chain(&e)));
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn bad_data_files_name_the_file_the_line_and_what_was_expected() {
    let cases: Vec<(&str, &str, &[u8], Vec<String>)> = vec![
        (
            "invalid UTF-8",
            "utf8.tsv",
            b"pos\tok\nneg\tbad \xff text\n",
            strings(&["utf8.tsv:2:", "invalid UTF-8 at byte 9", "expected UTF-8"]),
        ),
        (
            "UTF-16",
            "utf16.tsv",
            b"\xff\xfep\x00o\x00s\x00\t\x00",
            strings(&["utf16.tsv:1:", "looks like UTF-16"]),
        ),
        (
            "a TSV line with no tab",
            "tab.tsv",
            b"pos\tok\n\nno tab here\n",
            strings(&["tab.tsv:3:", "expected `label<TAB>text`, found no tab"]),
        ),
        (
            "a fastText line with no label",
            "a.ft",
            b"__label__pos ok\nno label\n",
            strings(&["a.ft:2:", "expected a `__label__` prefix"]),
        ),
        (
            "a CSV record with no separator",
            "sep.csv",
            b"text,label\nok,pos\njust text\n",
            strings(&["sep.csv:3:", "expected 2 fields as in the header, found 1"]),
        ),
        (
            "a JSON line that is not JSON",
            "a.jsonl",
            b"{\"text\": \"ok\", \"label\": 1}\n{\"text\": \"ok\" \"label\": 1}\n",
            strings(&["a.jsonl:2:", "invalid JSON at column"]),
        ),
        (
            "an empty TSV label",
            "empty.tsv",
            b"pos\tok\n \tno label\n",
            strings(&["empty.tsv:2:", "empty label"]),
        ),
        (
            "an empty CSV label",
            "empty.csv",
            b"text,label\nok,pos\nno label,\n",
            strings(&["empty.csv:3:", "empty label"]),
        ),
        (
            "an empty JSON label",
            "empty.jsonl",
            b"{\"text\": \"ok\", \"label\": \"\"}\n",
            strings(&["empty.jsonl:1:", "empty label"]),
        ),
        (
            "an empty fastText label",
            "empty.ft",
            b"__label__ text\n",
            strings(&["empty.ft:1:", "empty label"]),
        ),
        (
            "broken CSV quoting: a quote never closed",
            "quote.csv",
            b"text,label\nok,pos\n\"never closed,neg\nmore,pos\nand more,neg\n",
            strings(&[
                "quote.csv:3:",
                "expected 2 fields as in the header, found 1",
                "runs from line 3 to line 6",
                "closing quote missing",
            ]),
        ),
        (
            "broken CSV quoting: a quoted label never closed",
            "label-quote.csv",
            b"text,label\nok,\"pos\nmore,neg\n",
            strings(&[
                "label-quote.csv:2:",
                "the label contains a line break",
                "closing quote missing",
            ]),
        ),
        (
            "a CSV header missing the label column",
            "column.csv",
            b"text,stars\nok,5\n",
            strings(&[
                "column.csv:1:",
                "no column `label` in the header",
                "columns found: text, stars",
            ]),
        ),
        (
            "a JSON line missing the label key",
            "key.jsonl",
            b"{\"text\": \"ok\"}\n",
            strings(&["key.jsonl:1:", "missing \"label\" key"]),
        ),
        (
            "an empty file",
            "nothing.tsv",
            b"",
            strings(&["nothing.tsv: no examples found"]),
        ),
        (
            "only blank lines",
            "blank.csv",
            b"\n \r\n\n",
            strings(&["blank.csv: no examples found"]),
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
        assert_mentions(case, &chain(&err), &want);
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
    let err = train(&examples, None, &TrainConfig::default(), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
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
    let classifier = tiny_model();
    let max = classifier.config().max_length;
    let long = classifier.predict(&examples[0].text).unwrap();
    let head: String = examples[0].text.chars().take(max * 20).collect();
    assert_eq!(long, classifier.predict(&head).unwrap());
}

#[test]
fn cli_train_names_the_file_with_one_label_and_dev_labels_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.tsv"), "pos\tgood\npos\tfine\n").unwrap();
    let out = run(
        dir.path(),
        &["train", "--train", "one.tsv", "--out", "m", "-q"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_mentions(
        "one label",
        &stderr(&out),
        &strings(&[
            "one.tsv: invalid configuration: every example has the label `pos`",
            "at least two",
        ]),
    );

    std::fs::write(dir.path().join("train.tsv"), tsv_lines(20)).unwrap();
    std::fs::write(dir.path().join("dev.tsv"), "positive\tgood\nneutral\tmeh\n").unwrap();
    let out = run(
        dir.path(),
        &[
            "train",
            "--train",
            "train.tsv",
            "--dev",
            "dev.tsv",
            "--out",
            "m",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_mentions(
        "dev label",
        &stderr(&out),
        &strings(&[
            "dev.tsv:2: label `neutral` never occurs in the training data train.tsv",
            "its labels: negative, positive",
        ]),
    );
}

#[test]
fn cli_skip_invalid_skips_counts_and_shows_the_first_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut train_data = String::from("no tab here\n");
    train_data.push_str(&tsv_lines(30));
    train_data.push_str("\tempty label\n");
    std::fs::write(dir.path().join("train.tsv"), &train_data).unwrap();
    let args = [
        "train",
        "--train",
        "train.tsv",
        "--out",
        "m",
        "--epochs",
        "1",
        "--embedding-dim",
        "4",
        "--hidden",
        "3",
        "--no-checkpoint",
        "-q",
    ];
    let out = run(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "without --skip-invalid");
    assert_mentions("strict", &stderr(&out), &strings(&["train.tsv:1:"]));

    let out = run(dir.path(), &[&args[..], &["--skip-invalid"]].concat());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_mentions(
        "train --skip-invalid",
        &err,
        &strings(&[
            "skipped 2 invalid line(s) of train.tsv, kept 30",
            "train.tsv:1: expected `label<TAB>text`",
            "train.tsv:32: empty label",
        ]),
    );

    let mut eval_data = tsv_lines(6);
    for i in 0..7 {
        eval_data.push_str(&format!("neutral\tline {i}\n"));
    }
    std::fs::write(dir.path().join("eval.tsv"), &eval_data).unwrap();
    let eval = ["eval", "--model", "m", "--data", "eval.tsv", "--json"];
    let out = run(dir.path(), &eval);
    assert_eq!(out.status.code(), Some(1));
    assert_mentions(
        "eval strict",
        &stderr(&out),
        &strings(&[
            "eval.tsv:7: unknown label `neutral`",
            "the model's labels are negative, positive",
        ]),
    );
    let out = run(dir.path(), &[&eval[..], &["--skip-invalid"]].concat());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_mentions(
        "eval --skip-invalid",
        &err,
        &strings(&[
            "skipped 7 invalid line(s) of eval.tsv, kept 6",
            "eval.tsv:7: unknown label",
            "eval.tsv:11: unknown label",
            "... and 2 more",
        ]),
    );
    assert!(!err.contains("eval.tsv:12:"), "only the first five: {err}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["n"], 6);
}

// ---------------------------------------------------------------------------------------------
// Model directories
// ---------------------------------------------------------------------------------------------

const WEIGHTS: &str = "model.safetensors";

fn weights(dir: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join(WEIGHTS), &Device::Cpu).unwrap()
}

fn save_weights(dir: &Path, tensors: &HashMap<String, Tensor>) {
    candle_core::safetensors::save(tensors, dir.join(WEIGHTS)).unwrap();
}

fn edit_weights(dir: &Path, f: impl FnOnce(&mut HashMap<String, Tensor>)) {
    let mut tensors = weights(dir);
    f(&mut tensors);
    save_weights(dir, &tensors);
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    f(&mut config);
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
}

/// Sets one value of a float tensor.
fn poison(tensors: &mut HashMap<String, Tensor>, name: &str, value: f32) {
    let t = &tensors[name];
    let mut values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values[1] = value;
    let poisoned = Tensor::from_vec(values, t.dims(), &Device::Cpu).unwrap();
    tensors.insert(name.to_string(), poisoned);
}

type Mutation = Box<dyn Fn(&Path)>;

#[test]
fn broken_model_directories_name_the_file_tensor_and_shapes() {
    let base_dir = tempfile::tempdir().unwrap();
    let base = base_dir.path().join("model");
    let model = tiny_model();
    model.save(&base).unwrap();
    let v = model.config().vocab_size;
    let tensor_names = weights(&base).len();
    assert_eq!(tensor_names, 7);

    let cases: Vec<(&str, Mutation, Vec<String>)> = vec![
        (
            "config.json missing",
            Box::new(|d: &Path| std::fs::remove_file(d.join("config.json")).unwrap()),
            strings(&["config.json: cannot read", "No such file"]),
        ),
        (
            "tokenizer.json missing",
            Box::new(|d: &Path| std::fs::remove_file(d.join("tokenizer.json")).unwrap()),
            strings(&["tokenizer.json: cannot read", "No such file"]),
        ),
        (
            "model.safetensors missing",
            Box::new(|d: &Path| std::fs::remove_file(d.join(WEIGHTS)).unwrap()),
            strings(&["model.safetensors: cannot read", "No such file"]),
        ),
        (
            "truncated safetensors",
            Box::new(|d: &Path| {
                let bytes = std::fs::read(d.join(WEIGHTS)).unwrap();
                std::fs::write(d.join(WEIGHTS), &bytes[..bytes.len() / 2]).unwrap();
            }),
            strings(&["model.safetensors: not a valid safetensors file"]),
        ),
        (
            "safetensors cut inside its header",
            Box::new(|d: &Path| {
                let bytes = std::fs::read(d.join(WEIGHTS)).unwrap();
                std::fs::write(d.join(WEIGHTS), &bytes[..20]).unwrap();
            }),
            strings(&["model.safetensors: not a valid safetensors file"]),
        ),
        (
            "corrupt safetensors",
            Box::new(|d: &Path| std::fs::write(d.join(WEIGHTS), b"\x10\0\0\0\0\0\0\0{not json!!!!!!}").unwrap()),
            strings(&["model.safetensors: not a valid safetensors file"]),
        ),
        (
            "a tensor with the wrong name",
            Box::new(|d: &Path| {
                edit_weights(d, |t| {
                    let head = t.remove("head.weight").unwrap();
                    t.insert("head.weights".into(), head);
                })
            }),
            strings(&[
                "model.safetensors: missing tensor `head.weight` (shape [2, 3])",
                "found [",
                "head.weights",
            ]),
        ),
        (
            "an unexpected extra tensor",
            Box::new(|d: &Path| {
                edit_weights(d, |t| {
                    let extra = t["head.bias"].clone();
                    t.insert("head.extra".into(), extra);
                })
            }),
            strings(&["model.safetensors: unexpected tensor `head.extra`"]),
        ),
        (
            "a tensor with the wrong shape",
            Box::new(|d: &Path| {
                edit_weights(d, |t| {
                    let bias = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
                    t.insert("head.bias".into(), bias);
                })
            }),
            strings(&[
                "model.safetensors: tensor `head.bias` has shape [3], expected [2] from config.json",
            ]),
        ),
        (
            "a tensor with the wrong dtype",
            Box::new(|d: &Path| {
                edit_weights(d, |t| {
                    let bias = t["head.bias"].to_dtype(DType::F64).unwrap();
                    t.insert("head.bias".into(), bias);
                })
            }),
            strings(&[
                "model.safetensors: tensor `head.bias` has dtype F64, expected float32, float16 or bfloat16",
            ]),
        ),
        (
            "a tensor of a dtype candle cannot hold",
            Box::new(|d: &Path| {
                let bytes = std::fs::read(d.join(WEIGHTS)).unwrap();
                let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
                let bools = vec![1u8, 0];
                let mut views: Vec<(String, safetensors::tensor::TensorView)> = file
                    .tensors()
                    .into_iter()
                    .filter(|(name, _)| name != "head.bias")
                    .collect();
                let bias =
                    safetensors::tensor::TensorView::new(safetensors::Dtype::BOOL, vec![2], &bools)
                        .unwrap();
                views.push(("head.bias".to_string(), bias));
                let out = safetensors::tensor::serialize(views, None).unwrap();
                std::fs::write(d.join(WEIGHTS), out).unwrap();
            }),
            strings(&["model.safetensors: tensor `head.bias` has dtype BOOL, expected float32"]),
        ),
        (
            "tensors of another dtype than config.json says",
            Box::new(|d: &Path| edit_config(d, |c| c["dtype"] = "float16".into())),
            strings(&["tensor `", "is Float32 but config.json says dtype Float16"]),
        ),
        (
            "config hidden_size disagreeing with the tensors",
            Box::new(|d: &Path| edit_config(d, |c| c["hidden_size"] = 4.into())),
            strings(&[
                "model.safetensors: tensor `encoder.weight_ih_l0` has shape [12, 4], expected [16, 4] from config.json",
            ]),
        ),
        (
            "config labels disagreeing with the head",
            Box::new(|d: &Path| {
                edit_config(d, |c| c["labels"] = serde_json::json!(["a", "b", "c"]))
            }),
            strings(&["tensor `head.weight` has shape [2, 3], expected [3, 3] from config.json"]),
        ),
        (
            "config vocab_size disagreeing with the tokenizer",
            Box::new(move |d: &Path| edit_config(d, |c| c["vocab_size"] = (v + 1).into())),
            vec![
                "tokenizer.json".to_string(),
                format!("the tokenizer has {v} entries but config.json says vocab_size {}", v + 1),
            ],
        ),
        (
            "a newer format version",
            Box::new(|d: &Path| edit_config(d, |c| c["format_version"] = 4.into())),
            strings(&["config.json: format version 4 is newer than this build reads (3)"]),
        ),
        (
            "config.json that is not JSON",
            Box::new(|d: &Path| std::fs::write(d.join("config.json"), "{\"cell\": ").unwrap()),
            strings(&["config.json: not valid JSON"]),
        ),
        (
            "config.json missing a field",
            Box::new(|d: &Path| {
                edit_config(d, |c| {
                    c.as_object_mut().unwrap().remove("hidden_size");
                })
            }),
            strings(&["config.json: not a model config", "hidden_size"]),
        ),
        (
            "config.json with absurd sizes",
            Box::new(|d: &Path| edit_config(d, |c| c["hidden_size"] = (1u64 << 40).into())),
            strings(&["config.json:", "hidden_size must be at most"]),
        ),
        (
            "a NaN weight",
            Box::new(|d: &Path| edit_weights(d, |t| poison(t, "encoder.weight_hh_l0", f32::NAN))),
            strings(&[
                "model.safetensors: tensor `encoder.weight_hh_l0` holds a non-finite value (NaN) at flat index 1",
            ]),
        ),
        (
            "an infinite weight",
            Box::new(|d: &Path| edit_weights(d, |t| poison(t, "embedding.weight", f32::INFINITY))),
            strings(&["tensor `embedding.weight` holds a non-finite value (inf) at flat index 1"]),
        ),
        (
            "a tokenizer.json that is not JSON",
            Box::new(|d: &Path| std::fs::write(d.join("tokenizer.json"), "<html>").unwrap()),
            strings(&["tokenizer.json: not a tokenizer.json"]),
        ),
        (
            "a tokenizer.json of another kind",
            Box::new(|d: &Path| {
                let path = d.join("tokenizer.json");
                let json = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, json.replace("\"[UNK]\"", "\"<unk>\"")).unwrap();
            }),
            strings(&["tokenizer.json: not a tokenizer.json", "[UNK]"]),
        ),
    ];
    for (case, mutate, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("model");
        copy_dir(&base, &copy);
        mutate(&copy);
        let err = Classifier::load(&copy).unwrap_err();
        let message = chain(&err);
        assert_mentions(case, &message, &want);
        // Every message names the model's directory.
        assert!(
            message.contains(&copy.display().to_string()),
            "{case}: {message}"
        );
    }
}

#[test]
fn a_model_path_that_is_not_a_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.safetensors");
    std::fs::write(&file, b"x").unwrap();
    for path in [file, dir.path().join("missing")] {
        let message = chain(&Classifier::load(&path).unwrap_err());
        assert!(
            message.contains(&path.display().to_string())
                && message.contains("not a model directory"),
            "{message}"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions found by fuzzing (scripts/dev/fuzz.sh)
// ---------------------------------------------------------------------------------------------

/// The seed model's tokenizer.json (fuzz/seeds/model), a valid one to break.
const SEED_TOKENIZER: &str = include_str!("../fuzz/seeds/model/tokenizer.json");

#[test]
fn fuzz_tokenizer_json_with_a_syntax_error_in_decoder_is_an_error_not_a_panic() {
    // tokenizers 0.23 panics ("Helper") on a syntax error inside "decoder" when parsing text.
    let broken = SEED_TOKENIZER.replace("\"decoder\": null", "\"decoder\":E null");
    assert_ne!(broken, SEED_TOKENIZER);
    let path = Path::new("m/tokenizer.json");
    let err = TextTokenizer::from_json(&broken, path).unwrap_err();
    assert_mentions(
        "decoder",
        &err.to_string(),
        &strings(&["m/tokenizer.json: not a tokenizer.json", "line 34"]),
    );
    assert!(TextTokenizer::from_json(SEED_TOKENIZER, path).is_ok());
}

#[test]
fn tokenizer_ids_outside_the_embedding_table_are_refused_at_load() {
    // Found by review while writing the fuzz targets: an id past the table failed at predict
    // time with candle's "index-select invalid index", naming no file.
    let path = Path::new("m/tokenizer.json");
    let film = SEED_TOKENIZER
        .lines()
        .find(|l| l.trim_start().starts_with("\"film\""))
        .unwrap();
    let cases = [
        (
            "99",
            "ids must run from 0 to 6 without gaps, but no entry has id 3 and `film` has id 99",
        ),
        ("4", "`film` and `good` share the id 4"),
    ];
    for (id, want) in cases {
        let edited = SEED_TOKENIZER.replace(film, &format!("      \"film\": {id},"));
        let err = TextTokenizer::from_json(&edited, path).unwrap_err();
        assert_mentions(
            id,
            &err.to_string(),
            &strings(&["m/tokenizer.json: not a tokenizer.json", want]),
        );
    }
}

#[test]
fn cli_names_a_device_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--device", "tpu", "predict", "good"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    assert_mentions(
        "unknown device",
        &stderr(&out),
        &strings(&["tpu", "cpu, cuda or cuda:N"]),
    );
    if cfg!(not(feature = "cuda")) {
        let out = run(dir.path(), &["predict", "--device", "cuda:1", "good"]);
        assert!(!out.status.success());
        assert_mentions(
            "no cuda",
            &stderr(&out),
            &strings(&["cuda:1", "--features cuda"]),
        );
    }
}
