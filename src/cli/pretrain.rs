//! `pretrain`: read unlabelled text, pretrain an encoder with a progress bar on stderr, save the
//! pretrained encoder directory, print a summary.

use super::progress::{epoch_bar, interrupt_flag, resume_dir, say_above};
use super::word2vec::{read_texts, CorpusFormat};
use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use lstm_sentiment::pretrain::{
    pretrain, Objective, PretrainConfig, PretrainEpoch, PretrainEvent, PretrainReport,
};
use lstm_sentiment::train::{check_writable_dir, Checkpointing, LrSchedule, CHECKPOINT_FILE};
use lstm_sentiment::{Cell, TokenizerConfig};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn defaults() -> PretrainConfig {
    PretrainConfig::default()
}

#[derive(Args)]
pub struct PretrainArgs {
    /// Unlabelled text: plain files (one document per line; `-` for stdin) or labelled data
    /// files, of which the text column is used.
    #[arg(long, short = 'i', value_name = "FILE", num_args = 1.., required = true)]
    input: Vec<PathBuf>,
    /// Format of every --input; default: from each file's extension (.tsv .csv .jsonl .ndjson
    /// .ft), else plain.
    #[arg(long, value_enum)]
    input_format: Option<CorpusFormat>,
    /// CSV: the column holding the text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    text_column: String,
    /// Where to write the pretrained encoder directory.
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
    /// lm: a language model (each step predicts the next word; backward, the previous one);
    /// autoencoder: the encoder's final state must regenerate the text (SA-LSTM).
    #[arg(long, default_value_t = defaults().objective, value_name = "lm|autoencoder")]
    objective: Objective,
    /// Recurrent cell: lstm, gru or rnn.
    #[arg(long, default_value_t = defaults().cell, value_name = "CELL")]
    cell: Cell,
    #[arg(long, default_value_t = defaults().embedding_dim, value_name = "N")]
    embedding_dim: usize,
    /// Hidden state size per direction.
    #[arg(long, default_value_t = defaults().hidden_size, value_name = "N")]
    hidden: usize,
    #[arg(long, default_value_t = defaults().num_layers, value_name = "N")]
    layers: usize,
    /// Both directions (a language model then has one layer: each direction predicts its
    /// next word).
    #[arg(long)]
    bidirectional: bool,
    #[arg(long, default_value_t = defaults().epochs, value_name = "N")]
    epochs: usize,
    /// Texts are cut into consecutive windows of this many tokens, every token used.
    #[arg(long, default_value_t = defaults().max_length, value_name = "N")]
    max_length: usize,
    /// Windows per step.
    #[arg(long, default_value_t = defaults().batch_size, value_name = "N")]
    batch_size: usize,
    /// AdamW's peak learning rate.
    #[arg(long, default_value_t = defaults().lr, value_name = "X")]
    lr: f64,
    /// constant, linear or cosine (falling towards 0 at the last step).
    #[arg(long, default_value_t = defaults().lr_schedule, value_name = "constant|linear|cosine")]
    lr_schedule: LrSchedule,
    /// Fraction of the steps over which the learning rate climbs from 0.
    #[arg(long, default_value_t = defaults().warmup, value_name = "F")]
    warmup: f64,
    /// Clip the global gradient norm to this (0: off).
    #[arg(long, default_value_t = defaults().clip_norm, value_name = "X")]
    clip_norm: f64,
    /// Dropout on word vectors, between layers and before the output projection.
    #[arg(long, default_value_t = defaults().dropout, value_name = "X")]
    dropout: f32,
    /// Words drawn per step for the sampled softmax (unigram^0.75, shared by the batch).
    #[arg(long, default_value_t = defaults().samples, value_name = "N")]
    samples: usize,
    /// Fraction of the texts held out to report perplexity (at most 500 texts).
    #[arg(long, default_value_t = defaults().heldout, value_name = "X")]
    heldout: f64,
    /// Largest vocabulary, [PAD] and [UNK] included.
    #[arg(long, default_value_t = defaults().tokenizer.max_vocab, value_name = "N")]
    max_vocab: usize,
    /// Words seen fewer times become [UNK].
    #[arg(long, default_value_t = defaults().tokenizer.min_count, value_name = "N")]
    min_count: usize,
    /// Keep case (by default text is lowercased).
    #[arg(long)]
    keep_case: bool,
    /// Random seed: the same text and seed give identical weights (for a given --threads).
    #[arg(long, default_value_t = defaults().seed, value_name = "N")]
    seed: u64,
    /// Where to write checkpoints (default: OUT/checkpoint; removed when pretraining completes
    /// unless --keep-checkpoint).
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Besides at the end of every epoch, write a checkpoint every N steps (0: only at epoch
    /// ends).
    #[arg(long, default_value_t = defaults().checkpoint_steps, value_name = "N")]
    checkpoint_steps: usize,
    /// Write no checkpoints.
    #[arg(long, conflicts_with_all = ["checkpoint_dir", "resume"])]
    no_checkpoint: bool,
    /// Keep the checkpoint after pretraining completes.
    #[arg(long)]
    keep_checkpoint: bool,
    /// Continue an interrupted run from its checkpoint (a checkpoint directory, or the OUT of
    /// that run). Settings come from the checkpoint; give the same input files.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// No progress bar or summary.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Print the pretraining report (what OUT/config.json records under `training`) as one
    /// JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

impl PretrainArgs {
    fn config(&self) -> PretrainConfig {
        PretrainConfig {
            objective: self.objective,
            cell: self.cell,
            embedding_dim: self.embedding_dim,
            hidden_size: self.hidden,
            num_layers: self.layers,
            bidirectional: self.bidirectional,
            max_length: self.max_length,
            batch_size: self.batch_size,
            epochs: self.epochs,
            lr: self.lr,
            lr_schedule: self.lr_schedule,
            warmup: self.warmup,
            clip_norm: self.clip_norm,
            dropout: self.dropout,
            samples: self.samples,
            heldout: self.heldout,
            tokenizer: TokenizerConfig {
                lowercase: !self.keep_case,
                min_count: self.min_count,
                max_vocab: self.max_vocab,
            },
            seed: self.seed,
            checkpoint_steps: self.checkpoint_steps,
        }
    }

    fn checkpointing(&self) -> Result<Checkpointing> {
        Ok(match (&self.resume, self.no_checkpoint) {
            (Some(dir), _) => Checkpointing {
                dir: Some(resume_dir(dir)?),
                resume: true,
            },
            (None, true) => Checkpointing::default(),
            (None, false) => Checkpointing {
                dir: Some(
                    (self.checkpoint_dir.clone()).unwrap_or_else(|| self.out.join("checkpoint")),
                ),
                resume: false,
            },
        })
    }
}

pub fn run(a: PretrainArgs) -> Result<()> {
    check_writable_dir(&a.out).context("--out cannot hold the pretrained encoder")?;
    let config = a.config();
    if a.resume.is_none() {
        config.validate()?;
    }
    let mut texts = Vec::new();
    for input in &a.input {
        texts.extend(read_texts(input, a.input_format, &a.text_column)?);
    }
    let checkpointing = a.checkpointing()?;
    let mut progress = Progress::new(a.quiet);
    let result = pretrain(&texts, &config, &checkpointing, &mut |e| {
        progress.on_event(e)
    });
    progress.bar.finish_and_clear();
    let (pretrained, report) = result?;
    pretrained
        .save(&a.out)
        .with_context(|| format!("cannot save the pretrained encoder to {}", a.out.display()))?;
    if report.interrupted {
        let dir = checkpointing.dir.as_deref().unwrap_or(Path::new("?"));
        eprintln!(
            "interrupted: saved the encoder as it is; continue with --resume {}",
            dir.display()
        );
    } else if let Some(dir) = checkpointing.dir.as_ref().filter(|_| !a.keep_checkpoint) {
        // The encoder is in place: only now may the checkpoint go.
        let _ = std::fs::remove_file(dir.join(CHECKPOINT_FILE));
        let _ = std::fs::remove_dir(dir);
    }
    if a.json {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else if !a.quiet {
        print_summary(&report, &a.out)?;
    }
    Ok(())
}

fn print_summary(report: &PretrainReport, dir: &Path) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "epoch  train loss  held-out perplexity  seconds  tokens/s"
    )?;
    for r in &report.epochs {
        let perplexity = r
            .heldout_perplexity
            .map_or("-".into(), |p| format!("{p:.2}"));
        writeln!(
            out,
            "{:>5}  {:>10.4}  {perplexity:>19}  {:>7.1}  {:>8.0}",
            r.epoch, r.train_loss, r.seconds, r.tokens_per_second
        )?;
    }
    writeln!(
        out,
        "{} objective on {} windows ({} tokens) of {} texts; {:.1} s in all; saved to {}",
        report.config.objective,
        report.windows,
        report.tokens,
        report.texts,
        report.seconds,
        dir.display()
    )?;
    Ok(())
}

/// The progress bar and the lines printed above it; a Ctrl-C asks the run to stop.
struct Progress {
    bar: ProgressBar,
    quiet: bool,
    stop: Arc<AtomicBool>,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        Self {
            bar: epoch_bar(quiet),
            quiet,
            stop: interrupt_flag(),
        }
    }

    fn say(&self, line: String) {
        say_above(&self.bar, self.quiet, line);
    }

    fn on_event(&mut self, event: &PretrainEvent) -> ControlFlow<()> {
        match event {
            PretrainEvent::Step {
                epoch,
                step,
                steps,
                loss,
                tokens_per_second,
                ..
            } => {
                if self.bar.length() != Some(*steps as u64) || self.bar.position() > *step as u64 {
                    self.bar.reset();
                    self.bar.set_length(*steps as u64);
                }
                self.bar.set_prefix(epoch.to_string());
                self.bar.set_position(*step as u64);
                self.bar
                    .set_message(format!("loss {loss:.4} {tokens_per_second:.0} tok/s"));
            }
            other => {
                if let Some(line) = describe(other) {
                    self.say(line);
                }
            }
        }
        if self.stop.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// The line printed above the bar for an event, if any.
pub(super) fn describe(event: &PretrainEvent) -> Option<String> {
    match event {
        PretrainEvent::Started {
            first_epoch,
            first_step,
            texts,
            heldout_texts,
            windows,
            tokens,
            vocab_size,
            parameters,
            ..
        } => Some(format!(
            "pretraining on {texts} texts ({windows} windows, {tokens} tokens), {heldout_texts} held out; vocabulary {vocab_size}; {parameters} parameters{}",
            if (*first_epoch, *first_step) > (1, 1) {
                format!("; resuming at epoch {first_epoch}, step {first_step}")
            } else {
                String::new()
            }
        )),
        PretrainEvent::Epoch(r) => Some(epoch_line(r)),
        PretrainEvent::Step { .. } | PretrainEvent::Checkpoint { .. } => None,
    }
}

fn epoch_line(r: &PretrainEpoch) -> String {
    let heldout = match (r.heldout_loss, r.heldout_perplexity) {
        (Some(loss), Some(p)) => format!("held-out loss {loss:.4} perplexity {p:.2}"),
        _ => "nothing held out".to_string(),
    };
    format!(
        "epoch {}: train loss {:.4} (sampled) | {heldout} | lr {:.2e} | {:.1} s, {:.0} tok/s",
        r.epoch, r.train_loss, r.lr, r.seconds, r.tokens_per_second
    )
}
