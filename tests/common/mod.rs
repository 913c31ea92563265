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
