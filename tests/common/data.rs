//! Labelled examples, the files they are written to, and the repository's own fixtures.

use lstm_sentiment::Example;
use std::path::Path;

pub fn ex(label: &str, text: &str) -> Example {
    Example {
        text: text.to_string(),
        label: label.to_string(),
    }
}

/// `n` examples whose labels take turns through `labels` and whose `i`-th text is `text(i)`.
pub fn labelled(n: usize, labels: &[&str], mut text: impl FnMut(usize) -> String) -> Vec<Example> {
    (0..n)
        .map(|i| ex(labels[i % labels.len()], &text(i)))
        .collect()
}

/// `n` examples alternating `positive` and `negative`, with a cue word (`good` or `bad`) in
/// every text.
pub fn sentiment_examples(n: usize) -> Vec<Example> {
    labelled(n, &["positive", "negative"], |i| {
        format!("{} film number {}", ["good", "bad"][i % 2], i % 7)
    })
}

/// [`sentiment_examples`] as the lines of a TSV file.
pub fn sentiment_tsv(n: usize) -> String {
    tsv(&sentiment_examples(n))
}

/// Examples as the lines of a TSV file.
pub fn tsv(examples: &[Example]) -> String {
    examples
        .iter()
        .map(|e| format!("{}\t{}\n", e.label, e.text))
        .collect()
}

/// A fresh temporary directory holding `files` (name, content).
pub fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

/// A fresh temporary directory holding `train.tsv` with [`sentiment_tsv`]`(n)`.
pub fn train_dir(n: usize) -> tempfile::TempDir {
    dir_with(&[("train.tsv", &sentiment_tsv(n))])
}

/// The repository's root folder.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A small deterministic generator, so that data does not depend on any crate's RNG.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() % 2_000_001) as f32 / 1_000_000.0 - 1.0
    }
}
