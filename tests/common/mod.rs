//! Helpers shared by the tests that drive the `lstm-sentiment` binary.
// Each test file uses its own subset of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lstm-sentiment"))
}

/// Runs the binary with `args` in `dir` and collects its output.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `n` lines of `label<TAB>text`, alternating `positive` and `negative`, with a cue word
/// (`good` or `bad`) in every text.
pub fn sentiment_tsv(n: usize) -> String {
    (0..n)
        .map(|i| {
            let (label, cue) = if i % 2 == 0 {
                ("positive", "good")
            } else {
                ("negative", "bad")
            };
            format!("{label}\t{cue} film number {}\n", i % 7)
        })
        .collect()
}

/// Flags for a quick `train` run: a tiny network, a fixed seed, no early stopping.
pub const TINY_TRAIN: &[&str] = &[
    "--embedding-dim",
    "8",
    "--hidden",
    "8",
    "--patience",
    "0",
    "--seed",
    "3",
];

/// Whether `train`'s stderr reports a finished epoch, i.e. training got past its first epoch.
pub fn reports_an_epoch(stderr: &str) -> bool {
    stderr
        .lines()
        .any(|l| l.starts_with("epoch ") && l.contains("train loss"))
}

/// The machine's memory in bytes from /proc/meminfo, or `None` where it cannot be read.
pub fn mem_total() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `train --train train.tsv --out OUT --epochs EPOCHS`, the [`TINY_TRAIN`] flags, then `extra`.
pub fn tiny_train_args<'a>(out: &'a str, epochs: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "train",
        "--train",
        "train.tsv",
        "--out",
        out,
        "--epochs",
        epochs,
    ];
    args.extend_from_slice(TINY_TRAIN);
    args.extend_from_slice(extra);
    args
}

/// A library [`lstm_sentiment::TrainConfig`] for quick runs: a tiny network, one epoch.
pub fn tiny_train_config(seed: u64) -> lstm_sentiment::TrainConfig {
    lstm_sentiment::TrainConfig {
        embedding_dim: 4,
        hidden_size: 4,
        epochs: 1,
        seed,
        ..lstm_sentiment::TrainConfig::default()
    }
}

/// A classifier trained for one epoch on `words` (each word a text, labels alternating), small
/// enough to train in a blink; different words give different vocabularies.
pub fn tiny_classifier(words: &[&str]) -> lstm_sentiment::Classifier {
    let examples: Vec<lstm_sentiment::Example> = (0..40)
        .map(|i| lstm_sentiment::Example {
            text: format!("{} day", words[i % words.len()]),
            label: if i % 2 == 0 { "positive" } else { "negative" }.to_string(),
        })
        .collect();
    let config = lstm_sentiment::TrainConfig {
        embedding_dim: 4,
        hidden_size: 4,
        epochs: 1,
        ..lstm_sentiment::TrainConfig::default()
    };
    let stop = &mut |_: &lstm_sentiment::TrainEvent| std::ops::ControlFlow::Continue(());
    lstm_sentiment::train(&examples, None, &config, stop)
        .expect("a tiny model trains")
        .0
}
