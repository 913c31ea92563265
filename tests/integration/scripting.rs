//! Output that fits scripts: results on stdout (as JSON with `--json`), progress and notes on
//! stderr, `-q` for none of them, and shell completion scripts.

use crate::common::{args, bin, run, sentiment_tsv, stderr, success, tiny_train_args, train_dir};

#[test]
fn completions_are_written_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef lstm-sentiment"),
        ("fish", "complete -c lstm-sentiment"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = bin().args(["completions", shell]).output().unwrap();
        let script = success(&out);
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        // Every command is offered.
        for command in ["train", "predict", "explain", "report", "completions"] {
            assert!(script.contains(command), "{shell}: no {command}");
        }
    }
    let out = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn train_prints_its_report_as_json_and_progress_on_stderr() {
    let tmp = train_dir(40);
    let out = run(tmp.path(), &tiny_train_args("m", "2", &["--json"]));
    let json: serde_json::Value = serde_json::from_str(success(&out).trim()).unwrap();
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("m/training.json")).unwrap())
            .unwrap();
    assert_eq!(json, stored);
    assert!(stderr(&out).contains("epoch 1:"), "{}", stderr(&out));

    let quiet = run(tmp.path(), &tiny_train_args("q", "1", &["--json", "-q"]));
    success(&quiet);
    assert_eq!(stderr(&quiet), "");
}

#[test]
fn pretrain_prints_its_report_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.tsv"), sentiment_tsv(20)).unwrap();
    let line = "pretrain --input a.tsv --out enc --embedding-dim 4 --hidden 4 --max-length 6 \
                --samples 2 --min-count 1 --json -q";
    let out = run(tmp.path(), &args(line));
    let json: serde_json::Value = serde_json::from_str(success(&out).trim()).unwrap();
    assert_eq!(json["epochs"].as_array().map(Vec::len), Some(1));
    assert_eq!(stderr(&out), "");
}

#[test]
fn every_command_that_prints_results_has_json() {
    for command in [
        "train", "pretrain", "predict", "explain", "eval", "info", "similar", "analogy",
    ] {
        let help = success(&bin().args([command, "--help"]).output().unwrap());
        assert!(help.contains("--json"), "{command} has no --json");
    }
}

/// Runs `line` in `dir` with its stdout closed before it writes, as `... | head -0` would.
fn run_into_closed_pipe(dir: &std::path::Path, line: &[&str]) -> std::process::Output {
    let mut child = bin()
        .current_dir(dir)
        .args(line)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let tmp = train_dir(40);
    for line in [
        "info --json",
        "info",
        "eval --data train.tsv",
        "eval --data train.tsv --json",
        "explain good",
        "train --train train.tsv --out m --epochs 1 --hidden 4 --embedding-dim 4 -q",
    ] {
        let out = run_into_closed_pipe(tmp.path(), &args(line));
        assert_eq!(out.status.code(), Some(0), "{line}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{line}");
    }
}
