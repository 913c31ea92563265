//! Running the `lstm-sentiment` binary and reading what it printed.

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

/// The words of a command line without quotes, e.g. `args("train --train train.tsv -q")`.
pub fn args(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The stdout of a run that must have succeeded; panics with its stderr otherwise.
pub fn success(o: &Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    stdout(o)
}

/// The stderr of a run that must have exited with `code`; panics with it otherwise.
pub fn failure(o: &Output, code: i32) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    err
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

/// `train --train train.tsv --out OUT --epochs EPOCHS`, the [`TINY_TRAIN`] flags, then `extra`.
pub fn tiny_train_args<'a>(out: &'a str, epochs: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut line = args("train --train train.tsv --out");
    line.extend([out, "--epochs", epochs]);
    line.extend_from_slice(TINY_TRAIN);
    line.extend_from_slice(extra);
    line
}

/// Whether `train`'s stderr reports a finished epoch, i.e. training got past its first epoch.
pub fn reports_an_epoch(stderr: &str) -> bool {
    stderr
        .lines()
        .any(|l| l.starts_with("epoch ") && l.contains("train loss"))
}
