//! Bounded resources: a line stops being read as soon as it passes the line limit (so endless
//! input such as `/dev/zero` ends in an error), and thread counts far above the cores are
//! capped with a warning.

use crate::common::{args, bin, run, stderr, stdout};
use lstm_sentiment::data::{each_line, parse_examples, MAX_LINE_BYTES};
use lstm_sentiment::vectors::{Embeddings, Utf8, VectorFormat};
use lstm_sentiment::Format;
use std::io::{BufRead, Read};
use std::path::Path;

/// One endless line of `x`, which fails the test (as an I/O error) if read further than a
/// little past the line limit: a reader that keeps going would otherwise never end.
struct EndlessLine {
    served: usize,
    chunk: Vec<u8>,
}

impl EndlessLine {
    const SLACK: usize = 1 << 20;

    fn new() -> Self {
        EndlessLine {
            served: 0,
            chunk: vec![b'x'; 1 << 16],
        }
    }
}

impl Read for EndlessLine {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.fill_buf()?.len().min(buf.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for EndlessLine {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.served > MAX_LINE_BYTES + Self::SLACK {
            return Err(std::io::Error::other("read on past the line limit"));
        }
        Ok(&self.chunk)
    }

    fn consume(&mut self, n: usize) {
        self.served += n;
    }
}

fn assert_too_long(err: String, what: &str) {
    assert!(
        err.contains("endless:1: the line is longer than 256 MiB"),
        "{what}: {err}"
    );
}

#[test]
fn an_endless_line_stops_every_line_reader_at_the_limit() {
    let origin = Path::new("endless");
    let err = each_line(EndlessLine::new(), origin, |_| {
        lstm_sentiment::Result::Ok(())
    });
    assert_too_long(err.unwrap_err().to_string(), "plain lines");
    for format in [Format::Tsv, Format::Jsonl, Format::FastText] {
        let err = parse_examples(EndlessLine::new(), origin, &format).unwrap_err();
        assert_too_long(err.to_string(), &format!("{format:?}"));
    }
    for format in [VectorFormat::Word2VecText, VectorFormat::Glove] {
        let err = Embeddings::read(EndlessLine::new(), format, Utf8::Strict, origin).unwrap_err();
        assert_too_long(err.to_string(), &format!("{format:?}"));
    }
}

#[cfg(unix)]
#[test]
fn dev_zero_as_input_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    for line in [
        "predict -i /dev/zero",
        "train --train /dev/zero --out m --epochs 1",
        "word2vec -i /dev/zero -o v.txt",
    ] {
        let out = run(tmp.path(), &args(line));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{line}: {err}");
        assert!(
            err.contains("/dev/zero:1: the line is longer than 256 MiB"),
            "{line}: {err}"
        );
    }
}

/// More threads than the cap allows on this machine.
fn too_many_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores * lstm_sentiment::threads::MAX_THREADS_PER_CORE + 1
}

#[test]
fn thread_counts_far_above_the_cores_are_capped_with_a_warning() {
    let n = too_many_threads().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let by_flag = run(tmp.path(), &["--threads", &n, "predict", "good"]);
    let by_env = bin()
        .current_dir(tmp.path())
        .env("RAYON_NUM_THREADS", &n)
        .args(["predict", "good"])
        .output()
        .unwrap();
    for (out, source) in [(by_flag, "--threads"), (by_env, "RAYON_NUM_THREADS")] {
        let err = stderr(&out);
        assert!(out.status.success(), "{source}: {err}");
        assert!(
            err.contains(&format!("warning: {source} asks for {n} threads")),
            "{source}: {err}"
        );
        assert!(stdout(&out).starts_with("positive"), "{source}");
    }
    // Within the cap, nothing to say.
    let out = run(tmp.path(), &args("--threads 1 predict good"));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}
