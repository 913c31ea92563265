//! Speed benchmarks: training tokens/s, prediction texts/s, one-text latency, peak
//! memory and tokenizing, each printed as one JSON object per line on stdout.
//!
//! ```sh
//! cargo bench --bench throughput -- train --threads 2          # synthetic: 2048 texts x 40 tokens
//! cargo bench --bench throughput -- train --data train.tsv --dev dev.tsv --save my-model
//! cargo bench --bench throughput -- predict --model my-model --input texts.txt --threads 2
//! cargo bench --bench throughput -- latency --model my-model --length 20 --threads 1
//! cargo bench --bench throughput -- tokenize --input dev.tsv --threads 2
//! cargo bench --bench throughput -- encoder --length 268 --device cuda  # the recurrence alone
//! cargo bench --bench throughput                               # all three, small
//! ```
//!
//! `scripts/bench/vs_torch.py` runs these side by side with the PyTorch twin and prints ratios.
//!
//! Threads: `--threads N` sets `RAYON_NUM_THREADS` (the pool the fused kernel splits each batch
//! over; default 1) and `--candle-threads` `CANDLE_NUM_THREADS` (candle's own products; default
//! 1, as the CLI's) before the first candle call. The values used are in every output line.
//!
//! Training figures are the steps alone (batch gathering, forward, backward, clipping, the
//! optimizer), not tokenizing or dev evaluation: `TrainEvent::Epoch`'s tokens_per_second, of
//! the last epoch (`--epochs`, default 1), after an untimed warm-up run on the first
//! `--warmup-texts` dev texts. With at most 32 batches of data, `train`'s length bucketing makes
//! one pool, so every epoch has exactly the same batches (in another order); the PyTorch side of
//! the comparison script builds the same ones. `cpu_seconds` (user + system, whole process) next to
//! `seconds` shows how much of the cores the run actually got on a shared machine.

use clap::{Args, Parser, Subcommand};
use lstm_sentiment::{
    read_examples, train, Cell, Classifier, DeviceSpec, Example, Pooling, ReadOptions, TrainConfig,
    TrainEvent,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use serde_json::{json, Value};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "throughput/encoder.rs"]
mod encoder;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(about = "Throughput benchmarks; one JSON object per measurement on stdout")]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Sets RAYON_NUM_THREADS before any candle call: the fused kernel's threads.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// CANDLE_NUM_THREADS (candle's worker pool, for its own matrix products).
    #[arg(long, global = true, default_value_t = 1)]
    candle_threads: usize,
    /// Leave glibc's malloc as it is, instead of `keep_freed_memory` as the CLI does.
    #[arg(long, global = true)]
    malloc_defaults: bool,
    /// Where the model runs: cpu, or cuda[:N] in builds with the `cuda` feature.
    #[arg(long, global = true, default_value = "cpu")]
    device: DeviceSpec,
}

#[derive(Subcommand)]
enum Mode {
    /// Training tokens/s: synthetic texts, or a labelled file.
    Train(TrainArgs),
    /// Prediction texts/s through `Classifier::predict_batch`, one call per batch.
    Predict(PredictArgs),
    /// One-text latency of `Classifier::predict`, p50/p99 in microseconds.
    Latency(LatencyArgs),
    /// Tokenizing alone, texts/s: `TextTokenizer::encode_batch` (what prediction calls) against
    /// `tokenizers`' own `encode_batch` on the same pipeline (on whole texts: no cut at the
    /// model's max_length), in batches of `--batch`.
    Tokenize(TokenizeArgs),
    /// The recurrent encoder alone, forward and backward, in milliseconds per batch.
    Encoder(encoder::EncoderArgs),
}

#[derive(Args, Clone)]
struct TokenizeArgs {
    /// Model directory whose tokenizer to use; default: the built-in model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Texts, one per line (a label and a tab before the text are skipped).
    #[arg(long)]
    input: PathBuf,
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Timed passes over all texts (after one untimed); the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
}

#[derive(Args, Clone)]
struct Synthetic {
    /// Synthetic texts (without --data / --input).
    #[arg(long, default_value_t = 2048)]
    texts: usize,
    /// Tokens per synthetic text.
    #[arg(long, default_value_t = 40)]
    length: usize,
    /// Vocabulary of the synthetic texts, [PAD] and [UNK] included: words are drawn from a
    /// Zipf law, and every word occurs at least once when there are enough tokens.
    #[arg(long, default_value_t = 20_000)]
    vocab: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// The encoder and batch that `train` and `encoder` measure.
#[derive(Args, Clone)]
struct Shape {
    #[arg(long, default_value = "lstm")]
    cell: String,
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    #[arg(long, default_value_t = 1)]
    layers: usize,
    #[arg(long)]
    bidirectional: bool,
    #[arg(long, default_value_t = 64)]
    batch: usize,
}

impl Shape {
    fn cell(&self) -> Result<Cell> {
        Ok(serde_json::from_value(json!(self.cell))?)
    }

    /// `record` with the shape's fields added.
    fn recorded(&self, mut record: Value) -> Value {
        let fields = json!({
            "cell": self.cell,
            "hidden_size": self.hidden,
            "layers": self.layers,
            "bidirectional": self.bidirectional,
            "batch_size": self.batch,
        });
        merge(&mut record, &fields);
        record
    }
}

#[derive(Args, Clone)]
struct TrainArgs {
    /// Labelled training data (any format `train` reads); default: synthetic texts.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Dev data; default: 64 synthetic texts (so no training text is held out).
    #[arg(long)]
    dev: Option<PathBuf>,
    #[command(flatten)]
    synthetic: Synthetic,
    #[arg(long, default_value_t = 128)]
    embedding_dim: usize,
    #[command(flatten)]
    shape: Shape,
    /// Epochs over the data; the last one is the figure.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Before the measured run, train one untimed epoch on the first this many dev texts
    /// (0: none), which warms up the allocator and the caches.
    #[arg(long, default_value_t = 64)]
    warmup_texts: usize,
    /// Stop the last epoch after this many steps (its rate then comes from the step events).
    #[arg(long)]
    steps: Option<usize>,
    #[arg(long, default_value_t = 0.3)]
    dropout: f32,
    /// Decay of a moving average of the weights (`train --ema`); 0, the default: none, as the
    /// PyTorch side trains.
    #[arg(long, default_value_t = 0.0)]
    ema: f64,
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    #[arg(long, default_value_t = 5.0)]
    clip_norm: f64,
    #[arg(long, default_value_t = 512)]
    max_length: usize,
    /// Save the trained model here (for `predict` and `latency`).
    #[arg(long)]
    save: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct PredictArgs {
    /// Model directory; default: the built-in model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Texts, one per line; default: synthetic texts.
    #[arg(long)]
    input: Option<PathBuf>,
    #[command(flatten)]
    synthetic: Synthetic,
    /// Texts per `predict_batch` call.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Timed passes over all texts (after one warm-up batch); the median is reported.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Multiply in bfloat16 (`Classifier::with_bf16`).
    #[arg(long)]
    bf16: bool,
}

#[derive(Args, Clone)]
struct LatencyArgs {
    /// Model directory; default: the built-in model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The text; default: --length synthetic words.
    #[arg(long)]
    text: Option<String>,
    #[arg(long, default_value_t = 20)]
    length: usize,
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Multiply in bfloat16 (`Classifier::with_bf16`).
    #[arg(long)]
    bf16: bool,
}

fn main() -> Result<()> {
    // `cargo bench` appends `--bench` to a harness-less target's arguments.
    let args = std::env::args().filter(|a| a != "--bench");
    let cli = Cli::parse_from(args);
    // Before any candle (or rayon) call: no thread pool exists yet.
    let candle_threads = cli.candle_threads;
    std::env::set_var("RAYON_NUM_THREADS", cli.threads.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", candle_threads.to_string());
    let kept = !cli.malloc_defaults && lstm_sentiment::keep_freed_memory();
    let threads = json!({
        "keep_freed_memory": kept,
        "threads": cli.threads,
        "RAYON_NUM_THREADS": cli.threads,
        "CANDLE_NUM_THREADS": candle_threads,
        "device": cli.device.to_string(),
    });
    let device = cli.device;
    match cli.mode {
        Some(Mode::Train(a)) => emit(bench_train(&a, device)?, &threads),
        Some(Mode::Predict(a)) => emit(bench_predict(&a, device)?, &threads),
        Some(Mode::Latency(a)) => emit(bench_latency(&a, device)?, &threads),
        Some(Mode::Tokenize(a)) => emit(bench_tokenize(&a, device)?, &threads),
        Some(Mode::Encoder(a)) => emit(encoder::bench_encoder(&a, device)?, &threads),
        None => {
            // A quick round of all three on a freshly trained synthetic model.
            let dir = tempfile::tempdir()?;
            let model = dir.path().join("model");
            let defaults = Cli::parse_from(["throughput", "train"]);
            let Some(Mode::Train(mut t)) = defaults.mode else {
                unreachable!()
            };
            t.synthetic.texts = 1024;
            t.save = Some(model.clone());
            emit(bench_train(&t, device)?, &threads);
            let p = PredictArgs {
                model: Some(model.clone()),
                input: None,
                synthetic: t.synthetic.clone(),
                batch: 256,
                repeat: 1,
                bf16: false,
            };
            emit(bench_predict(&p, device)?, &threads);
            let l = LatencyArgs {
                model: Some(model),
                text: None,
                length: 20,
                calls: 2000,
                warmup: 200,
                bf16: false,
            };
            emit(bench_latency(&l, device)?, &threads);
        }
    }
    Ok(())
}

/// Prints one measurement with the thread settings and the process's peak memory so far.
fn emit(mut record: Value, threads: &Value) {
    merge(&mut record, threads);
    merge(&mut record, &json!({ "peak_rss_mb": peak_rss_mb() }));
    println!("{record}");
}

/// Adds the fields of the object `more` to the object `record`.
fn merge(record: &mut Value, more: &Value) {
    let obj = record.as_object_mut().expect("an object");
    for (k, v) in more.as_object().expect("an object") {
        obj.insert(k.clone(), v.clone());
    }
}

fn bench_train(a: &TrainArgs, device: DeviceSpec) -> Result<Value> {
    let cell = a.shape.cell()?;
    let (train_set, source) = match &a.data {
        Some(path) => (
            read_examples(path, &ReadOptions::default())?,
            path.display().to_string(),
        ),
        None => (
            synthetic_examples(&a.synthetic, a.synthetic.texts, a.synthetic.seed),
            format!(
                "synthetic: {} texts x {} tokens, vocab {}",
                a.synthetic.texts, a.synthetic.length, a.synthetic.vocab
            ),
        ),
    };
    let dev_set = match &a.dev {
        Some(path) => read_examples(path, &ReadOptions::default())?,
        None => synthetic_examples(&a.synthetic, 64, a.synthetic.seed + 1),
    };
    let config = TrainConfig {
        cell,
        embedding_dim: a.embedding_dim,
        hidden_size: a.shape.hidden,
        num_layers: a.shape.layers,
        bidirectional: a.shape.bidirectional,
        dropout: a.dropout,
        epochs: Some(a.epochs),
        batch_size: a.shape.batch,
        lr: a.lr,
        clip_norm: a.clip_norm,
        max_length: a.max_length,
        patience: 0,
        device,
        // The network and steps the PyTorch side of the comparison scripts runs: the final
        // state into the head, plain steps (no adversarial second pass, no average unless
        // asked), no n-gram buckets; not the choices `train` makes from the data.
        pooling: Pooling::Last,
        adversarial: Some(0.0),
        ema: Some(a.ema),
        ngram_buckets: Some(0),
        ..TrainConfig::default()
    };

    let warmup_texts = a.warmup_texts.min(dev_set.len());
    if warmup_texts > 0 {
        let warm = TrainConfig {
            epochs: Some(1),
            ..config.clone()
        };
        let texts = &dev_set[..warmup_texts];
        train(
            texts,
            Some(texts),
            &warm,
            &mut |_| ControlFlow::Continue(()),
        )?;
    }

    // Step events carry the running tokens/s since the epoch began; the epoch begins right
    // after the previous event (Started, or the last epoch's Epoch) returns.
    let mut vocab_size = 0;
    let mut steps_per_epoch = 0;
    let mut epoch_began = Instant::now();
    let mut epoch_cpu = cpu_seconds();
    let mut last_step: Option<(usize, usize, f64, f64)> = None; // epoch, step, tokens, seconds
    let mut step_cpu = 0.0;
    let mut epochs: Vec<Value> = Vec::new();
    let last_epoch = a.epochs;
    let steps_limit = a.steps;
    let start = Instant::now();
    let (classifier, _) = train(&train_set, Some(&dev_set), &config, &mut |event| {
        let mut flow = ControlFlow::Continue(());
        match event {
            TrainEvent::Started {
                vocab_size: v,
                steps_per_epoch: s,
                ..
            } => {
                vocab_size = *v;
                steps_per_epoch = *s;
            }
            TrainEvent::Step {
                epoch,
                step,
                tokens_per_second,
                ..
            } => {
                let seconds = epoch_began.elapsed().as_secs_f64();
                last_step = Some((*epoch, *step, tokens_per_second * seconds, seconds));
                step_cpu = cpu_seconds() - epoch_cpu;
                if *epoch == last_epoch && steps_limit.is_some_and(|n| *step >= n) {
                    let mut figures =
                        epoch_figures(*epoch, *step, tokens_per_second * seconds, seconds);
                    figures["cpu_seconds"] = json!(cents(step_cpu));
                    epochs.push(figures);
                    flow = ControlFlow::Break(());
                }
            }
            TrainEvent::Epoch(record) => {
                // The record's rate counts the steps only (not the dev evaluation after them).
                let (_, steps, tokens, seconds) = last_step.unwrap_or_default();
                let mut figures = epoch_figures(record.epoch, steps, tokens, seconds);
                figures["tokens_per_second"] = json!(record.tokens_per_second);
                figures["cpu_seconds"] = json!(cents(step_cpu));
                epochs.push(figures);
            }
            _ => {}
        }
        if !matches!(event, TrainEvent::Step { .. }) {
            epoch_cpu = cpu_seconds();
            epoch_began = Instant::now();
        }
        flow
    })?;
    let wall = start.elapsed().as_secs_f64();
    if let Some(dir) = &a.save {
        classifier.save(dir)?;
    }
    let measured = epochs.last().cloned().unwrap_or(Value::Null);
    let tps = measured["tokens_per_second"].as_f64().unwrap_or(0.0);
    let flops = forward_flops_per_token(classifier.config()) * 3.0;
    Ok(a.shape.recorded(json!({
        "mode": "train",
        "data": source,
        "train_texts": train_set.len(),
        "vocab_size": vocab_size,
        "embedding_dim": a.embedding_dim,
        "dropout": (f64::from(a.dropout) * 1e6).round() / 1e6,
        "ema": a.ema,
        "steps_per_epoch": steps_per_epoch,
        "epochs": epochs,
        "measured_epoch": measured["epoch"],
        "warmup_texts": warmup_texts,
        "seconds": measured["seconds"],
        "cpu_seconds": measured["cpu_seconds"],
        "tokens_per_second": tps,
        "train_flops_per_token": flops,
        "gflop_per_second": tps * flops / 1e9,
        "wall_seconds": wall,
    })))
}

fn epoch_figures(epoch: usize, steps: usize, tokens: f64, seconds: f64) -> Value {
    json!({
        "epoch": epoch,
        "steps": steps,
        "tokens": tokens.round(),
        "seconds": seconds,
        "tokens_per_second": tokens / seconds,
    })
}

fn bench_predict(a: &PredictArgs, device: DeviceSpec) -> Result<Value> {
    let load_start = Instant::now();
    let classifier = load(a.model.as_deref(), device)?.with_bf16(a.bf16)?;
    let load_seconds = load_start.elapsed().as_secs_f64();
    let texts: Vec<String> = match &a.input {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .map(str::to_string)
            .collect(),
        None => synthetic_texts(&a.synthetic, a.synthetic.texts, a.synthetic.seed),
    };
    if texts.is_empty() {
        return Err("no texts to predict".into());
    }
    let max_length = classifier.config().max_length;
    let mut tokens = 0usize;
    for t in &texts {
        tokens += classifier.tokenizer().encode(t, max_length)?.len();
    }
    let batch = a.batch.max(1);
    // Warm-up: one batch.
    classifier.predict_batch(&texts[..batch.min(texts.len())])?;
    let mut passes = Vec::with_capacity(a.repeat.max(1));
    let cpu_start = cpu_seconds();
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        for chunk in texts.chunks(batch) {
            std::hint::black_box(classifier.predict_batch(chunk)?);
        }
        passes.push(t.elapsed().as_secs_f64());
    }
    let cpu = (cpu_seconds() - cpu_start) / passes.len() as f64;
    let seconds = median(&mut passes.clone());
    let batches = texts.len().div_ceil(batch);
    let flops = forward_flops_per_token(classifier.config());
    Ok(json!({
        "mode": "predict",
        "model": model_name(a.model.as_deref()),
        "bf16": a.bf16,
        "texts": texts.len(),
        "tokens": tokens,
        "batch_size": batch,
        "seconds": seconds,
        "pass_seconds": passes,
        "cpu_seconds": cents(cpu),
        "texts_per_second": texts.len() as f64 / seconds,
        "tokens_per_second": tokens as f64 / seconds,
        "ms_per_batch": seconds * 1e3 / batches as f64,
        "gflop_per_second": tokens as f64 * flops / seconds / 1e9,
        "load_seconds": load_seconds,
    }))
}

fn bench_tokenize(a: &TokenizeArgs, device: DeviceSpec) -> Result<Value> {
    let classifier = load(a.model.as_deref(), device)?;
    let tokenizer = classifier.tokenizer();
    let max_length = classifier.config().max_length;
    let file = std::fs::read_to_string(&a.input)?;
    let texts: Vec<&str> = file
        .lines()
        .map(|line| line.split_once('\t').map_or(line, |(_, text)| text))
        .collect();
    let batch = a.batch.max(1);
    // Seconds per pass of `f` over the batches (median of --repeat, after one untimed pass) and
    // the tokens it counted.
    let timed = |f: &dyn Fn(&[&str]) -> Result<usize>| -> Result<(f64, usize)> {
        let (mut passes, mut tokens) = (Vec::new(), 0);
        for pass in 0..=a.repeat.max(1) {
            let start = Instant::now();
            tokens = 0;
            for chunk in texts.chunks(batch) {
                tokens += f(chunk)?;
            }
            if pass > 0 {
                passes.push(start.elapsed().as_secs_f64());
            }
        }
        Ok((median(&mut passes), tokens))
    };
    let (ours, tokens) = timed(&|chunk| {
        let ids = tokenizer.encode_batch(chunk, max_length)?;
        Ok(ids.iter().map(Vec::len).sum())
    })?;
    // Whole texts: tokenizers has no cut at max_length (ours encodes a prefix of long texts).
    let (theirs, _) = timed(&|chunk| {
        let encodings =
            (tokenizer.inner().encode_batch(chunk.to_vec(), false)).map_err(|e| e.to_string())?;
        Ok(encodings.iter().map(|e| e.len().min(max_length)).sum())
    })?;
    let ascii = texts.iter().filter(|t| t.is_ascii()).count();
    Ok(json!({
        "mode": "tokenize",
        "model": model_name(a.model.as_deref()),
        "texts": texts.len(),
        "ascii_texts": ascii,
        "tokens": tokens,
        "texts_per_second": texts.len() as f64 / ours,
        "tokenizers_texts_per_second": texts.len() as f64 / theirs,
        "speedup": theirs / ours,
    }))
}

fn bench_latency(a: &LatencyArgs, device: DeviceSpec) -> Result<Value> {
    let classifier = load(a.model.as_deref(), device)?.with_bf16(a.bf16)?;
    let text = match &a.text {
        Some(t) => t.clone(),
        None => {
            let s = Synthetic {
                texts: 1,
                length: a.length,
                vocab: classifier.config().vocab_size,
                seed: 7,
            };
            synthetic_texts(&s, 1, 7).remove(0)
        }
    };
    let tokens = classifier
        .tokenizer()
        .encode(&text, classifier.config().max_length)?
        .len();
    for _ in 0..a.warmup {
        std::hint::black_box(classifier.predict(&text)?);
    }
    let mut us = Vec::with_capacity(a.calls);
    for _ in 0..a.calls.max(1) {
        let t = Instant::now();
        std::hint::black_box(classifier.predict(&text)?);
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    us.sort_by(f64::total_cmp);
    let mean = us.iter().sum::<f64>() / us.len() as f64;
    Ok(json!({
        "mode": "latency",
        "model": model_name(a.model.as_deref()),
        "bf16": a.bf16,
        "text_tokens": tokens,
        "calls": us.len(),
        "warmup": a.warmup,
        "p50_us": percentile(&us, 0.50),
        "p90_us": percentile(&us, 0.90),
        "p99_us": percentile(&us, 0.99),
        "min_us": us[0],
        "mean_us": mean,
    }))
}

fn load(model: Option<&Path>, device: DeviceSpec) -> Result<Classifier> {
    let classifier = match model {
        Some(dir) => Classifier::load(dir)?,
        None => Classifier::builtin()?,
    };
    Ok(classifier.to_device(device)?)
}

fn model_name(model: Option<&Path>) -> String {
    model.map_or("builtin".into(), |p| p.display().to_string())
}

/// Multiply-adds of the encoder and head per token, forward, counted as 2 * m * n * k per
/// product: each layer and direction does an input product (G*H x input) and a recurrent one
/// (G*H x H) per token, G = 4 (lstm), 3 (gru), 1 (rnn). The head's per-text product is left out.
fn forward_flops_per_token(c: &lstm_sentiment::ModelConfig) -> f64 {
    let gates = match c.cell {
        Cell::Lstm => 4.0,
        Cell::Gru => 3.0,
        Cell::Rnn => 1.0,
    };
    let h = c.hidden_size as f64;
    let dirs = if c.bidirectional { 2.0 } else { 1.0 };
    (0..c.num_layers)
        .map(|l| {
            let input = if l == 0 {
                c.embedding_dim as f64
            } else {
                h * dirs
            };
            dirs * 2.0 * gates * h * (input + h)
        })
        .sum()
}

/// Words of letters only ("aaaa", "aaab", ...), so the tokenizer keeps each one as one token.
/// scripts/bench/vs_torch.py writes the same words.
fn word(mut i: usize) -> String {
    let mut letters = Vec::new();
    for _ in 0..4 {
        letters.push(b'a' + (i % 26) as u8);
        i /= 26;
    }
    while i > 0 {
        letters.push(b'a' + (i % 26) as u8);
        i /= 26;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ascii")
}

/// `n` texts of `s.length` words drawn from a Zipf law over `s.vocab - 2` words (the tokenizer
/// adds [PAD] and [UNK]); every word is placed once when the texts have room for all.
fn synthetic_texts(s: &Synthetic, n: usize, seed: u64) -> Vec<String> {
    let words = s.vocab.saturating_sub(2).max(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let zipf = Zipf::new(words as f64, 1.0).expect("valid zipf");
    let mut ranks: Vec<usize> = (0..words).collect();
    ranks.shuffle(&mut rng);
    let mut slots: Vec<usize> = (0..n * s.length)
        .map(|_| ranks[(zipf.sample(&mut rng) as usize - 1).min(words - 1)])
        .collect();
    if slots.len() >= words {
        let mut positions: Vec<usize> = (0..slots.len()).collect();
        positions.shuffle(&mut rng);
        for (w, &p) in positions[..words].iter().enumerate() {
            slots[p] = w;
        }
    }
    slots
        .chunks(s.length.max(1))
        .take(n)
        .map(|c| c.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" "))
        .collect()
}

fn synthetic_examples(s: &Synthetic, n: usize, seed: u64) -> Vec<Example> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED);
    synthetic_texts(s, n, seed)
        .into_iter()
        .map(|text| Example {
            text,
            label: if rng.random_bool(0.5) {
                "positive"
            } else {
                "negative"
            }
            .into(),
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// User + system CPU seconds of the whole process so far (every thread), from /proc/self/stat;
/// 0 where /proc is missing. Resolution: one clock tick (10 ms on Linux).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th, in ticks of 1/100 s (USER_HZ on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after.split_whitespace().skip(11);
    let ticks = |f: Option<&str>| f.and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(fields.next()) + ticks(fields.next())) / 100.0
}

/// Rounded to hundredths (CPU time comes in ticks of 10 ms).
fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The process's peak resident memory (VmHWM) in MB, or null where /proc is missing.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
