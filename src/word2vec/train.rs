//! The training loop. Each thread takes a contiguous share of the sentences and runs every epoch
//! over it, as word2vec.c does; the learning rate follows the words done by all threads
//! together. The calling thread only reports progress.

use super::config::{Architecture, Word2VecConfig, Word2VecEvent};
use super::hogwild::Hogwild;
use super::huffman::Huffman;
use super::sampling::{keep_thresholds, Noise, Rng, Sigmoid, MAX_EXP};
use super::vocab::Corpus;
use crate::error::{Error, Result};
use std::ops::{ControlFlow, Range};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Threads publish their word counts (and so move the learning rate) this often.
const PUBLISH_EVERY: u64 = 10_000;
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// Everything the threads share.
struct Shared<'a> {
    config: &'a Word2VecConfig,
    corpus: &'a Corpus,
    /// The word vectors (word2vec.c's syn0).
    input: Hogwild<'a>,
    /// Output vectors for negative sampling (syn1neg), one per word.
    negative: Hogwild<'a>,
    /// Output vectors for hierarchical softmax (syn1), one per inner tree node.
    tree_nodes: Hogwild<'a>,
    tree: Option<Huffman>,
    noise: Noise,
    keep: Vec<u64>,
    sigmoid: Sigmoid,
    lr: f32,
    /// Corpus words over all epochs.
    total: u64,
    done: AtomicU64,
    stop: AtomicBool,
}

/// Trains and returns the word vectors, row-major in vocabulary order.
pub(super) fn run(
    corpus: &Corpus,
    config: &Word2VecConfig,
    on_event: &mut dyn FnMut(&Word2VecEvent) -> ControlFlow<()>,
) -> Result<Vec<f32>> {
    let (dim, words) = (config.dim, corpus.words.len());
    let size = words
        .checked_mul(dim)
        .ok_or_else(|| Error::Config(format!("{words} words x {dim} dimensions is too large")))?;
    check_memory(words, dim, config)?;
    // word2vec.c's start: small random word vectors, zero output vectors.
    let mut rng = Rng::new(config.seed);
    let mut input: Vec<f32> = (0..size).map(|_| rng.centered() / dim as f32).collect();
    let mut negative = vec![0.0f32; if config.negative > 0 { size } else { 0 }];
    let inner_nodes = if config.hierarchical_softmax {
        size - dim
    } else {
        0
    };
    let mut tree_nodes = vec![0.0f32; inner_nodes];

    let shared = Shared {
        config,
        corpus,
        input: Hogwild::new(&mut input, dim),
        negative: Hogwild::new(&mut negative, dim),
        tree_nodes: Hogwild::new(&mut tree_nodes, dim),
        tree: config
            .hierarchical_softmax
            .then(|| Huffman::new(&corpus.counts)),
        noise: Noise::new(&corpus.counts),
        keep: keep_thresholds(&corpus.counts, config.sample),
        sigmoid: Sigmoid::new(),
        lr: config.start_lr(),
        total: (corpus.ids.len() as u64).saturating_mul(config.epochs as u64),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    };
    let start = Instant::now();
    let report = |shared: &Shared, done: u64| {
        let fraction = (done as f64 / shared.total.max(1) as f64).min(1.0);
        let per_epoch = corpus.ids.len().max(1) as u64;
        Word2VecEvent::Progress {
            fraction,
            words_per_second: done as f64 / start.elapsed().as_secs_f64().max(1e-9),
            lr: shared.lr_at(done),
            epoch: ((done / per_epoch) as usize + 1).min(config.epochs),
        }
    };

    let (finished, wait) = channel::<()>();
    let mut cancelled = false;
    let mut spawn_error = None;
    std::thread::scope(|scope| {
        let parts = partition(&corpus.ends, config.threads);
        for (thread, sentences) in parts.into_iter().enumerate() {
            let (shared, finished) = (&shared, finished.clone());
            let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                shared.worker(thread, sentences);
                let _ = finished.send(());
            });
            if let Err(e) = spawned {
                // Stop the threads already started; the scope waits for them.
                shared.stop.store(true, Relaxed);
                spawn_error = Some(e);
                return;
            }
        }
        drop(finished);
        let mut last = Instant::now();
        loop {
            match wait.recv_timeout(REPORT_EVERY) {
                Err(RecvTimeoutError::Disconnected) => break,
                Ok(()) if last.elapsed() < REPORT_EVERY => continue,
                _ => {}
            }
            last = Instant::now();
            if !cancelled && on_event(&report(&shared, shared.done.load(Relaxed))).is_break() {
                cancelled = true;
                shared.stop.store(true, Relaxed);
            }
        }
    });
    if let Some(e) = spawn_error {
        return Err(Error::Config(format!(
            "cannot start {} training threads: {e}",
            config.threads
        )));
    }
    if cancelled {
        return Err(Error::Cancelled);
    }
    if on_event(&report(&shared, shared.total)).is_break() {
        return Err(Error::Cancelled);
    }
    drop(shared);
    Ok(input)
}

/// Splits the sentences into `threads` contiguous ranges of about equal word counts.
fn partition(ends: &[usize], threads: usize) -> Vec<Range<usize>> {
    let total = ends.last().copied().unwrap_or(0);
    let mut ranges = Vec::with_capacity(threads);
    let mut first = 0;
    for t in 1..=threads {
        let target = total * t / threads;
        let last = ends.partition_point(|&end| end <= target).max(first);
        ranges.push(first..last);
        first = last;
    }
    if let Some(range) = ranges.last_mut() {
        range.end = ends.len();
    }
    ranges
}

impl Shared<'_> {
    /// The learning rate after `done` corpus words: linear from `lr` to `min_lr`.
    fn lr_at(&self, done: u64) -> f32 {
        let progress = (done as f64 / self.total.max(1) as f64).min(1.0) as f32;
        self.lr - (self.lr - self.config.min_lr) * progress
    }

    fn worker(&self, thread: usize, sentences: Range<usize>) {
        let config = self.config;
        let mut rng =
            Rng::new(config.seed ^ (thread as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut sentence = Vec::new();
        let mut hidden = vec![0.0f32; config.dim];
        let mut grad = vec![0.0f32; config.dim];
        let mut unpublished = 0u64;
        let mut lr = self.lr_at(self.done.load(Relaxed));
        for _ in 0..config.epochs {
            for s in sentences.clone() {
                if self.stop.load(Relaxed) {
                    return;
                }
                let start = if s == 0 { 0 } else { self.corpus.ends[s - 1] };
                let words = &self.corpus.ids[start..self.corpus.ends[s]];
                sentence.clear();
                sentence.extend(words.iter().copied().filter(|&w| {
                    let keep = self.keep[w as usize];
                    keep > u64::from(u32::MAX) || rng.next_u64() >> 32 < keep
                }));
                match config.architecture {
                    Architecture::SkipGram => {
                        self.skip_gram(&sentence, lr, &mut rng, &mut hidden, &mut grad)
                    }
                    Architecture::Cbow => {
                        self.cbow(&sentence, lr, &mut rng, &mut hidden, &mut grad)
                    }
                }
                unpublished += words.len() as u64;
                if unpublished >= PUBLISH_EVERY {
                    let done = self.done.fetch_add(unpublished, Relaxed) + unpublished;
                    unpublished = 0;
                    lr = self.lr_at(done);
                }
            }
        }
        self.done.fetch_add(unpublished, Relaxed);
    }

    /// Context words inside a window shrunk at random, as word2vec.c does.
    fn window(&self, position: usize, length: usize, rng: &mut Rng) -> Range<usize> {
        let span = self.config.window - rng.below(self.config.window);
        position.saturating_sub(span)..position.saturating_add(span + 1).min(length)
    }

    /// Each context word's vector predicts the centre word.
    fn skip_gram(
        &self,
        sentence: &[u32],
        lr: f32,
        rng: &mut Rng,
        hidden: &mut [f32],
        grad: &mut [f32],
    ) {
        for (position, &word) in sentence.iter().enumerate() {
            for c in self.window(position, sentence.len(), rng) {
                if c == position {
                    continue;
                }
                let context = sentence[c] as usize;
                self.input.copy_to(context, hidden);
                grad.fill(0.0);
                self.predict(word, hidden, grad, lr, rng);
                self.input.add(context, 1.0, grad);
            }
        }
    }

    /// The mean of the context vectors predicts the centre word; every context vector then
    /// takes the whole error, as in word2vec.c and gensim.
    fn cbow(&self, sentence: &[u32], lr: f32, rng: &mut Rng, hidden: &mut [f32], grad: &mut [f32]) {
        for (position, &word) in sentence.iter().enumerate() {
            let window = self.window(position, sentence.len(), rng);
            let contexts = window.clone().filter(|&c| c != position);
            hidden.fill(0.0);
            let mut n = 0;
            for c in contexts.clone() {
                self.input.add_to(sentence[c] as usize, 1.0, hidden);
                n += 1;
            }
            if n == 0 {
                continue;
            }
            hidden.iter_mut().for_each(|h| *h /= n as f32);
            grad.fill(0.0);
            self.predict(word, hidden, grad, lr, rng);
            for c in contexts {
                self.input.add(sentence[c] as usize, 1.0, grad);
            }
        }
    }

    /// One prediction of `word` from `hidden`: updates the output vectors and adds the error
    /// for `hidden` to `grad`.
    fn predict(&self, word: u32, hidden: &[f32], grad: &mut [f32], lr: f32, rng: &mut Rng) {
        if let Some(tree) = &self.tree {
            for (node, branch) in tree.path(word) {
                let node = node as usize;
                let f = self.tree_nodes.dot(node, hidden);
                // word2vec.c skips saturated nodes outright.
                if f.abs() >= MAX_EXP {
                    continue;
                }
                let g = (1.0 - f32::from(branch) - self.sigmoid.get(f)) * lr;
                self.tree_nodes.add_to(node, g, grad);
                self.tree_nodes.add(node, g, hidden);
            }
        }
        for d in 0..self.config.negative + usize::from(self.config.negative > 0) {
            let (target, label) = if d == 0 {
                (word, 1.0)
            } else {
                match self.noise.sample(rng) {
                    noise if noise == word => continue,
                    noise => (noise, 0.0),
                }
            };
            let target = target as usize;
            let f = self.negative.dot(target, hidden);
            let p = if f > MAX_EXP {
                1.0
            } else if f < -MAX_EXP {
                0.0
            } else {
                self.sigmoid.get(f)
            };
            let g = (label - p) * lr;
            self.negative.add_to(target, g, grad);
            self.negative.add(target, g, hidden);
        }
    }
}

/// Refuses tables that cannot fit in the machine's memory: the word vectors, the output
/// vectors of negative sampling and of hierarchical softmax, and two vectors per thread.
fn check_memory(words: usize, dim: usize, config: &Word2VecConfig) -> Result<()> {
    let tables = 1 + u128::from(config.negative > 0) + u128::from(config.hierarchical_softmax);
    let floats = (words as u128 * tables + 2 * config.threads as u128) * dim as u128;
    crate::memory::check(
        "word2vec",
        crate::memory::f32_bytes(floats),
        &format!("{words} words x {dim} dimensions"),
    )
}
