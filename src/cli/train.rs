//! `train`: read data, train with a progress bar on stderr, save, print a summary.

use super::{parse_label_map, DataFormatArgs};
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lstm_sentiment::train::{Checkpointing, EmbeddingInit, EpochRecord, CHECKPOINT_FILE};
use lstm_sentiment::{Cell, DeviceSpec, Example, TokenizerConfig, TrainConfig, TrainEvent};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Args)]
pub struct TrainArgs {
    /// Labelled training data (TSV, CSV, JSONL or fastText).
    #[arg(long, value_name = "FILE")]
    train: PathBuf,
    /// Labelled dev data for choosing the best epoch; default: hold out --dev-fraction of --train.
    #[arg(long, value_name = "FILE")]
    dev: Option<PathBuf>,
    /// Where to write the model directory.
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    format: DataFormatArgs,
    /// Rename labels, e.g. `0=negative,1=positive`; the old names stay valid for eval.
    #[arg(long, value_name = "MAP")]
    label_map: Option<String>,
    /// Recurrent cell.
    #[arg(long, default_value = "lstm", value_parser = ["lstm", "gru", "rnn"])]
    cell: String,
    /// Word vector size (m in the tutorial).
    #[arg(long, default_value_t = 128, value_name = "N")]
    embedding_dim: usize,
    /// Hidden state size per direction (n in the tutorial).
    #[arg(long, default_value_t = 128, value_name = "N")]
    hidden: usize,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1, value_name = "N")]
    layers: usize,
    /// Read texts in both directions and join the two final states.
    #[arg(long)]
    bidirectional: bool,
    /// Dropout on word vectors, between layers and before the output layer.
    #[arg(long, default_value_t = 0.3, value_name = "X")]
    dropout: f32,
    /// Most epochs to run (early stopping may end sooner).
    #[arg(long, default_value_t = 10, value_name = "N")]
    epochs: usize,
    /// Stop after this many epochs without a better dev accuracy (0: never).
    #[arg(long, default_value_t = 3, value_name = "N")]
    patience: usize,
    #[arg(long, default_value_t = 64, value_name = "N")]
    batch_size: usize,
    /// AdamW learning rate.
    #[arg(long, default_value_t = 2e-3, value_name = "X")]
    lr: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 0.0, value_name = "X")]
    weight_decay: f64,
    /// Clip the global gradient norm to this (0: off).
    #[arg(long, default_value_t = 5.0, value_name = "X")]
    clip_norm: f64,
    /// Truncate texts to this many tokens.
    #[arg(long, default_value_t = 512, value_name = "N")]
    max_length: usize,
    /// Words seen fewer times become [UNK].
    #[arg(long, default_value_t = 1, value_name = "N")]
    min_count: usize,
    /// Largest vocabulary, [PAD] and [UNK] included.
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    max_vocab: usize,
    /// Keep case (by default text is lowercased).
    #[arg(long)]
    keep_case: bool,
    /// Fraction of --train held out as dev when --dev is not given.
    #[arg(long, default_value_t = 0.1, value_name = "X")]
    dev_fraction: f64,
    /// Start the word vectors from this word2vec (binary or text) or GloVe file.
    #[arg(long, value_name = "FILE", conflicts_with = "pretrain_word2vec")]
    vectors: Option<PathBuf>,
    /// Train word2vec (skip-gram) on the training texts first and start from its vectors.
    #[arg(long)]
    pretrain_word2vec: bool,
    /// With --pretrain-word2vec: more text for word2vec, one text per line.
    #[arg(long, value_name = "FILE", requires = "pretrain_word2vec")]
    unlabeled: Option<PathBuf>,
    /// Keep the starting word vectors fixed during training.
    #[arg(long)]
    freeze_embeddings: bool,
    /// Random seed: the same data and seed give identical weights.
    #[arg(long, default_value_t = 42, value_name = "N")]
    seed: u64,
    /// Where to write a checkpoint after every epoch (default: OUT/checkpoint; removed when
    /// training completes unless --keep-checkpoint).
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Write no checkpoints.
    #[arg(long, conflicts_with_all = ["checkpoint_dir", "resume"])]
    no_checkpoint: bool,
    /// Keep the checkpoint after training completes.
    #[arg(long)]
    keep_checkpoint: bool,
    /// Continue an interrupted run from its checkpoint (a checkpoint directory, or the OUT of
    /// that run). Hyperparameters come from the checkpoint; give the same data files.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Skip data lines that cannot be used (bad format, empty label, a dev label not in the
    /// training data) instead of stopping; they are counted and the first few shown.
    #[arg(long)]
    skip_invalid: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// The checkpoint directory named by --resume: the directory itself or its `checkpoint/`.
fn resume_dir(dir: &Path) -> Result<PathBuf> {
    for candidate in [dir.to_path_buf(), dir.join("checkpoint")] {
        if candidate.join(CHECKPOINT_FILE).is_file() {
            return Ok(candidate);
        }
    }
    anyhow::bail!(
        "{}: no {CHECKPOINT_FILE} here or in its checkpoint/ directory",
        dir.display()
    )
}

pub fn run(a: TrainArgs, device: DeviceSpec) -> Result<()> {
    let label_map: BTreeMap<String, String> = match &a.label_map {
        Some(spec) => parse_label_map(spec)?.into_iter().collect(),
        None => BTreeMap::new(),
    };
    let rename = |mut v: Vec<Example>| {
        for e in &mut v {
            if let Some(to) = label_map.get(&e.label) {
                e.label = to.clone();
            }
        }
        v
    };
    let train = rename(a.format.read(&a.train, a.skip_invalid, None)?);
    let train_labels = lstm_sentiment::data::label_set(&train);
    if let [only] = train_labels.as_slice() {
        anyhow::bail!(
            "{}: every example has the label `{only}`; a classifier needs at least two labels",
            a.train.display()
        );
    }
    let dev_label = |label: &str| {
        let label = label_map.get(label).map_or(label, String::as_str);
        if train_labels.iter().any(|l| l == label) {
            Ok(())
        } else {
            Err(format!(
                "label `{label}` never occurs in the training data {} (its labels: {})",
                a.train.display(),
                train_labels.join(", ")
            ))
        }
    };
    let dev = a
        .dev
        .as_ref()
        .map(|p| a.format.read(p, a.skip_invalid, Some(&dev_label)))
        .transpose()?
        .map(rename);
    let config = TrainConfig {
        cell: a.cell.parse::<Cell>()?,
        embedding_dim: a.embedding_dim,
        hidden_size: a.hidden,
        num_layers: a.layers,
        bidirectional: a.bidirectional,
        dropout: a.dropout,
        epochs: a.epochs,
        batch_size: a.batch_size,
        lr: a.lr,
        weight_decay: a.weight_decay,
        clip_norm: a.clip_norm,
        max_length: a.max_length,
        patience: a.patience,
        dev_fraction: a.dev_fraction,
        seed: a.seed,
        tokenizer: TokenizerConfig {
            lowercase: !a.keep_case,
            min_count: a.min_count,
            max_vocab: a.max_vocab,
        },
        embeddings: match (&a.vectors, a.pretrain_word2vec) {
            (Some(path), _) => EmbeddingInit::Vectors { path: path.clone() },
            (None, true) => EmbeddingInit::Word2Vec {
                unlabeled: a.unlabeled.clone(),
            },
            (None, false) => EmbeddingInit::Random,
        },
        freeze_embeddings: a.freeze_embeddings,
        device,
    };

    let checkpointing = match (&a.resume, a.no_checkpoint) {
        (Some(dir), _) => Checkpointing {
            dir: Some(resume_dir(dir)?),
            resume: true,
        },
        (None, true) => Checkpointing::default(),
        (None, false) => Checkpointing {
            dir: Some(
                a.checkpoint_dir
                    .clone()
                    .unwrap_or_else(|| a.out.join("checkpoint")),
            ),
            resume: false,
        },
    };
    let stop = interrupt_flag();
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let say = |bar: &ProgressBar, line: String| {
        if a.quiet {
            return;
        }
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    };
    let mut on_event = |event: &TrainEvent| {
        match event {
            TrainEvent::Started {
                first_epoch,
                train_examples,
                dev_examples,
                vocab_size,
                labels,
                parameters,
                ..
            } => say(
                &bar,
                format!(
                    "training on {train_examples} examples, dev {dev_examples}; vocabulary {vocab_size}; labels {}; {parameters} parameters{}",
                    labels.join(", "),
                    if *first_epoch > 1 { format!("; resuming at epoch {first_epoch}") } else { String::new() }
                ),
            ),
            TrainEvent::Step {
                epoch,
                step,
                steps,
                loss,
                accuracy,
                tokens_per_second,
            } => {
                if *step == 1 {
                    bar.reset();
                    bar.set_length(*steps as u64);
                    bar.set_prefix(epoch.to_string());
                }
                bar.set_position(*step as u64);
                bar.set_message(format!(
                    "loss {loss:.4} acc {accuracy:.4} {:.0} tok/s",
                    tokens_per_second
                ));
            }
            TrainEvent::Epoch(r) => say(&bar, epoch_line(r)),
            TrainEvent::Checkpoint { .. } => {}
            TrainEvent::Embeddings { matched, words } => say(
                &bar,
                format!(
                    "word vectors cover {matched} of {words} vocabulary words ({:.1}%)",
                    100.0 * *matched as f64 / (*words).max(1) as f64
                ),
            ),
        }
        if stop.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let (mut classifier, report) = lstm_sentiment::train::train_with(
        &train,
        dev.as_deref(),
        &config,
        &checkpointing,
        &mut on_event,
    )?;
    bar.finish_and_clear();
    if report.interrupted {
        eprintln!(
            "interrupted: saving the best epoch so far; continue with --resume {}",
            checkpointing
                .dir
                .as_deref()
                .unwrap_or(Path::new("?"))
                .display()
        );
    } else if let Some(dir) = checkpointing.dir.as_ref().filter(|_| !a.keep_checkpoint) {
        let _ = std::fs::remove_file(dir.join(CHECKPOINT_FILE));
        let _ = std::fs::remove_dir(dir);
    }
    if !label_map.is_empty() {
        classifier.set_label_aliases(label_map)?;
    }
    classifier
        .save(&a.out)
        .with_context(|| format!("cannot save the model to {}", a.out.display()))?;

    println!("epoch  train loss  train acc  dev loss  dev acc  dev macro-F1  seconds");
    for r in &report.epochs {
        println!(
            "{:>5}  {:>10.4}  {:>9.4}  {:>8.4}  {:>7.4}  {:>12.4}  {:>7.1}{}",
            r.epoch,
            r.train_loss,
            r.train_accuracy,
            r.dev_loss,
            r.dev_accuracy,
            r.dev_macro_f1,
            r.seconds,
            if r.epoch == report.best_epoch {
                "  *"
            } else {
                ""
            }
        );
    }
    println!(
        "kept epoch {} (dev accuracy {:.4}, macro-F1 {:.4}); {:.1} s in all; saved to {}",
        report.best_epoch,
        report.dev_accuracy,
        report.dev_macro_f1,
        report.seconds,
        a.out.display()
    );
    Ok(())
}

fn epoch_line(r: &EpochRecord) -> String {
    format!(
        "epoch {}: train loss {:.4} acc {:.4} | dev loss {:.4} acc {:.4} macro-F1 {:.4} | {:.1} s, {:.0} tok/s{}",
        r.epoch,
        r.train_loss,
        r.train_accuracy,
        r.dev_loss,
        r.dev_accuracy,
        r.dev_macro_f1,
        r.seconds,
        r.tokens_per_second,
        if r.best { " (best so far)" } else { "" }
    )
}

/// Set by the first Ctrl-C: training stops after its current step and the best epoch is saved.
/// A second Ctrl-C exits at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let presses = Arc::new(AtomicUsize::new(0));
    let flag = stop.clone();
    // Without a handler (e.g. one is already installed) Ctrl-C simply ends the process.
    let _ = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) > 0 {
            std::process::exit(130);
        }
        flag.store(true, Ordering::SeqCst);
    });
    stop
}
