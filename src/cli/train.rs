//! `train`: check the arguments, read data, train with a progress bar on stderr, save, print a
//! summary.

use super::args::{parse_label_map, DataFormatArgs};
use super::progress::{epoch_bar, interrupt_flag, resume_dir, say_above};
use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use indicatif::ProgressBar;
use lstm_sentiment::data::label_list;
use lstm_sentiment::pretrain::{PretrainEvent, PretrainedConfig};
use lstm_sentiment::train::{
    check_writable_dir, training_labels, Checkpointing, EmbeddingInit, EncoderInit, EpochRecord,
    LrSchedule, SelfTrain, SelfTraining, TrainReport, CHECKPOINT_FILE, SELF_TRAINING_FILE,
    SELF_TRAIN_KEEP,
};
use lstm_sentiment::{
    Cell, DeviceSpec, Example, Pooling, TokenizerConfig, TrainConfig, TrainEvent, Truncation,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The library's defaults, which the flags below show and start from.
fn defaults() -> TrainConfig {
    TrainConfig::default()
}

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
    /// Recurrent cell: lstm, gru or rnn.
    #[arg(long, default_value_t = defaults().cell, value_name = "CELL")]
    cell: Cell,
    /// Word vector size (m in the tutorial).
    #[arg(long, default_value_t = defaults().embedding_dim, value_name = "N")]
    embedding_dim: usize,
    /// Add to each word vector a vector of its bigram (the word and the one before it; in
    /// Chinese, the character and the one before it), hashed into this many buckets of a
    /// second table, as fastText's word n-grams. 0: none; auto: 100000 when most tokens of
    /// --train are Chinese characters (which the tokenizer splits one by one) or its texts
    /// are long (50 tokens or more on average), else none.
    #[arg(long, default_value = "auto", value_name = "K|auto")]
    ngram_buckets: OrAuto<usize>,
    /// Hidden state size per direction (n in the tutorial).
    #[arg(long, default_value_t = defaults().hidden_size, value_name = "N")]
    hidden: usize,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = defaults().num_layers, value_name = "N")]
    layers: usize,
    /// Read texts in both directions as well as forwards (`--bidirectional false`: forwards
    /// only).
    #[arg(long, default_value_t = defaults().bidirectional, value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    bidirectional: bool,
    /// What the output layer reads of the last layer's hidden states: last (the final state),
    /// max or mean (over every step of the text), or last_max (the final state and the max).
    #[arg(long, default_value_t = defaults().pooling, value_name = "POOLING")]
    pooling: Pooling,
    /// Dropout between layers and before the output layer, and on word vectors unless
    /// --embedding-dropout is given.
    #[arg(long, default_value_t = defaults().dropout, value_name = "X")]
    dropout: f32,
    /// Dropout on word vectors [default: --dropout].
    #[arg(long, value_name = "X")]
    embedding_dropout: Option<f32>,
    /// Word dropout: in training, each token of a text becomes [UNK] with this probability
    /// (prediction drops none).
    #[arg(long, default_value_t = defaults().word_dropout, value_name = "P")]
    word_dropout: f32,
    /// Adversarial training: each step also trains on its texts with their word vectors moved
    /// X word-vector lengths (per text) in the direction that raises the loss fastest, which
    /// about doubles its time. 0: off. auto: 1 for Chinese or long texts (those that
    /// --ngram-buckets auto gives bigrams), 0.5 for others, 0 when the training texts hold
    /// more than 3 million tokens.
    #[arg(long, default_value = "auto", value_name = "X|auto")]
    adversarial: OrAuto<f64>,
    /// Most epochs to run (early stopping may end sooner). auto: 8; 5 when the run starts
    /// from the built-in Chinese encoder (--init auto on Chinese texts); 4 when the training
    /// texts hold more than 3 million tokens and the weights are averaged (--ema).
    #[arg(long, default_value = "auto", value_name = "N|auto")]
    epochs: OrAuto<usize>,
    /// Stop after this many epochs without a better dev accuracy (0: never).
    #[arg(long, default_value_t = defaults().patience, value_name = "N")]
    patience: usize,
    /// Score and keep a moving average of the weights rather than the weights themselves:
    /// after step t, average = d x average + (1 - d) x weights, d = min(D, (1 + t) / (10 + t)),
    /// so it spans about the last t / 9 steps (at most 1 / (1 - D)). 0: the weights themselves.
    /// auto: 0.99 when the training texts hold more than 3 million tokens, else 0.
    #[arg(long, default_value = "auto", value_name = "D|auto")]
    ema: OrAuto<f64>,
    #[arg(long, default_value_t = defaults().batch_size, value_name = "N")]
    batch_size: usize,
    /// AdamW learning rate, at most 10. A run whose loss, gradients or weights turn NaN or
    /// infinite stops there: the best epoch with finite weights, if any, is saved, and the
    /// command fails.
    #[arg(long, default_value_t = defaults().lr, value_name = "X")]
    lr: f64,
    /// How the learning rate moves over the planned steps (--epochs x steps per epoch): held at
    /// --lr, or falling from it towards 0 in a straight line or a half cosine.
    #[arg(long, default_value_t = defaults().lr_schedule, value_name = "constant|linear|cosine")]
    lr_schedule: LrSchedule,
    /// The fraction of the planned steps over which the learning rate first climbs linearly
    /// from 0 to --lr, in [0, 1).
    #[arg(long, default_value_t = defaults().warmup, value_name = "F")]
    warmup: f64,
    /// The word vectors learn at --lr times this (the rest of the network at --lr).
    #[arg(long, default_value_t = defaults().embedding_lr_scale, value_name = "X")]
    embedding_lr_scale: f64,
    /// AdamW weight decay, from 0 to 1 / --lr (each step multiplies the weights by
    /// 1 - lr x weight decay).
    #[arg(long, default_value_t = defaults().weight_decay, value_name = "X")]
    weight_decay: f64,
    /// Clip the global gradient norm to this (0: off).
    #[arg(long, default_value_t = defaults().clip_norm, value_name = "X")]
    clip_norm: f64,
    /// Truncate texts to this many tokens.
    #[arg(long, default_value_t = defaults().max_length, value_name = "N")]
    max_length: usize,
    /// Which tokens a text longer than --max-length keeps: head (the first), tail (the last) or
    /// head_tail (the first half from the start, the second from the end).
    #[arg(long, default_value_t = defaults().truncation, value_name = "SIDE")]
    truncate: Truncation,
    /// Words seen fewer times become [UNK].
    #[arg(long, default_value_t = defaults().tokenizer.min_count, value_name = "N")]
    min_count: usize,
    /// Largest vocabulary, [PAD] and [UNK] included.
    #[arg(long, default_value_t = defaults().tokenizer.max_vocab, value_name = "N")]
    max_vocab: usize,
    /// Keep case (by default text is lowercased).
    #[arg(long)]
    keep_case: bool,
    /// Without --dev, this fraction of each label's --train examples is held out as dev (a
    /// label's only example stays in train). 0: no dev set; every epoch runs and the last is
    /// kept.
    #[arg(long, default_value_t = defaults().dev_fraction, value_name = "X")]
    dev_fraction: f64,
    /// Start the word vectors from this word2vec (binary or text) or GloVe file.
    #[arg(long, value_name = "FILE", conflicts_with = "pretrain_word2vec")]
    vectors: Option<PathBuf>,
    /// Train word2vec (skip-gram) on the training texts first and start from its vectors.
    #[arg(long, group = "pretraining")]
    pretrain_word2vec: bool,
    /// With --pretrain-word2vec or --pretrain-lm: more text to pretrain on, one text per line.
    #[arg(long, value_name = "FILE", requires = "pretraining")]
    unlabeled: Option<PathBuf>,
    /// With --pretrain-word2vec and --unlabeled: also give ids to up to N words of the
    /// unlabelled file that the training texts lack (seen at least --min-count times there, the
    /// most frequent first), so that they keep their pretrained vectors rather than all reading
    /// as unknown. They come on top of --max-vocab.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        requires = "unlabeled",
        conflicts_with = "pretrain_lm"
    )]
    unlabeled_words: usize,
    /// Where the word vectors and the encoder start. DIR: a pretrained encoder directory
    /// (written by `pretrain`), whose tokenizer, cell, sizes, layers and direction the
    /// classifier takes (a flag that says otherwise is an error). auto: the built-in Chinese
    /// encoder when most tokens of --train are Chinese characters, its vocabulary holds 99% of
    /// them and the network, tokenizer and word-vector options are left at their defaults;
    /// else fresh. none: fresh. The output layer always starts fresh.
    #[arg(long, default_value = "auto", value_name = "DIR|auto|none",
          conflicts_with_all = ["vectors", "pretraining"])]
    init: InitArg,
    /// Pretrain the encoder as a language model on the training texts (and --unlabeled) first,
    /// then train the classifier from it, as --init does.
    #[arg(long, group = "pretraining", conflicts_with = "vectors")]
    pretrain_lm: bool,
    /// With --pretrain-lm: epochs of language-model pretraining.
    #[arg(long, default_value_t = 1, value_name = "N", requires = "pretrain_lm")]
    pretrain_epochs: usize,
    /// Self-training: train a teacher as the other flags say, label the texts of FILE (one per
    /// line) with it, and keep a student trained the same way on the training data plus the
    /// texts the teacher was surest of. More than twice the time: a teacher, then a student on
    /// more rows.
    #[arg(long, value_name = "FILE")]
    self_train: Option<PathBuf>,
    /// With --self-train: the share of the texts predicted as the rarer label that is added,
    /// the most confident first; the other label adds as many of its own.
    #[arg(long, default_value_t = SELF_TRAIN_KEEP, value_name = "X", requires = "self_train")]
    self_train_keep: f64,
    /// The encoder learns at --lr times this (the output layer at --lr).
    #[arg(long, default_value_t = defaults().encoder_lr_scale, value_name = "X")]
    encoder_lr_scale: f64,
    /// Gradual unfreezing (ULMFiT): the first epoch trains the output layer alone, each later
    /// one also the next encoder layer from the top, then the word vectors too.
    #[arg(long)]
    gradual_unfreezing: bool,
    /// Keep the starting word vectors fixed during training.
    #[arg(long)]
    freeze_embeddings: bool,
    /// Random seed: the same data and seed give identical weights.
    #[arg(long, default_value_t = defaults().seed, value_name = "N")]
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
    /// Print the training report (what OUT/training.json holds) as one JSON object instead of
    /// the table.
    #[arg(long)]
    json: bool,
}

/// Checks what can be checked, reads the data, trains, saves the model and only then lets the
/// checkpoint go. A run that diverged saves its best finite epoch, if it has one, and still
/// fails.
pub fn run(a: TrainArgs, device: DeviceSpec, matches: &ArgMatches) -> Result<()> {
    check_writable_dir(&a.out).context("--out cannot hold the model")?;
    let mut config = a.config(device);
    if let (InitArg::Dir(dir), None) = (&a.init, &a.resume) {
        let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        take_from_pretrained(&mut config, dir, given)?;
    }
    if a.resume.is_none() {
        // A resumed run takes its hyperparameters from the checkpoint instead.
        config.validate()?;
    }
    let label_map: BTreeMap<String, String> = match &a.label_map {
        Some(spec) => parse_label_map(spec)?.into_iter().collect(),
        None => BTreeMap::new(),
    };
    let (train, dev) = read_data(&a, &label_map)?;
    let checkpointing = a.checkpointing()?;
    let mut progress = Progress::new(a.quiet);
    let result = lstm_sentiment::train::train_with(
        &train,
        dev.as_deref(),
        &config,
        &checkpointing,
        &mut |event| progress.on_event(event),
    );
    progress.bar.finish_and_clear();
    let (mut classifier, report) = result?;
    if report.interrupted {
        eprintln!(
            "interrupted: saving the best epoch so far; continue with --resume {}",
            checkpointing
                .dir
                .as_deref()
                .unwrap_or(Path::new("?"))
                .display()
        );
    }
    if !label_map.is_empty() {
        classifier.set_label_aliases(label_map)?;
    }
    classifier
        .save(&a.out)
        .with_context(|| format!("cannot save the model to {}", a.out.display()))?;
    // The model is in place: only now may the checkpoint go.
    if let Some(dir) = checkpointing.dir.as_ref() {
        if !report.interrupted && !a.keep_checkpoint {
            let _ = std::fs::remove_file(dir.join(CHECKPOINT_FILE));
            let _ = std::fs::remove_file(dir.join(SELF_TRAINING_FILE));
            let _ = std::fs::remove_dir(dir);
        }
    }
    let printed = if a.json {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", serde_json::to_string(&report)?)
    } else {
        print_summary(&report, &a.out)
    };
    if let Some(diverged) = &report.diverged {
        anyhow::bail!(
            "{diverged}; the best epoch with finite weights, {}, was saved to {}",
            report.best_epoch,
            a.out.display()
        );
    }
    Ok(printed?)
}

/// With --init: the pretrained encoder's cell, sizes, direction and tokenizer settings for
/// the flags not `given` on the command line (a given one that differs is refused when the run
/// starts, with both values).
fn take_from_pretrained(
    config: &mut TrainConfig,
    dir: &Path,
    given: impl Fn(&str) -> bool,
) -> Result<()> {
    let pretrained = PretrainedConfig::read(dir).context("--init")?;
    let (shape, tokenizer) = (&pretrained.shape, &pretrained.tokenizer);
    let c = config;
    if !given("cell") {
        c.cell = shape.cell;
    }
    if !given("embedding_dim") {
        c.embedding_dim = shape.embedding_dim;
    }
    if !given("hidden") {
        c.hidden_size = shape.hidden_size;
    }
    if !given("layers") {
        c.num_layers = shape.num_layers;
    }
    if !given("bidirectional") {
        c.bidirectional = shape.bidirectional;
    }
    if !given("keep_case") {
        c.tokenizer.lowercase = tokenizer.lowercase;
    }
    if !given("min_count") {
        c.tokenizer.min_count = tokenizer.min_count;
    }
    if !given("max_vocab") {
        c.tokenizer.max_vocab = tokenizer.max_vocab;
    }
    Ok(())
}

/// The training and dev data with --label-map applied; every label of the map must be a
/// training label, before or after renaming.
fn read_data(
    a: &TrainArgs,
    label_map: &BTreeMap<String, String>,
) -> Result<(Vec<Example>, Option<Vec<Example>>)> {
    let rename = |mut v: Vec<Example>| {
        for e in &mut v {
            if let Some(to) = label_map.get(&e.label) {
                e.label = to.clone();
            }
        }
        v
    };
    let train = rename(a.format.read(&a.train, a.skip_invalid, None)?);
    let labels = training_labels(&train).with_context(|| a.train.display().to_string())?;
    if let Some((from, to)) = label_map.iter().find(|(_, to)| !labels.contains(to)) {
        anyhow::bail!(
            "--label-map {from}={to}: no example of {} has the label `{from}` or `{to}` (its labels: {})",
            a.train.display(),
            label_list(&labels)
        );
    }
    let dev_label = |label: &str| {
        let label = label_map.get(label).map_or(label, String::as_str);
        if labels.iter().any(|l| l == label) {
            Ok(())
        } else {
            Err(format!(
                "label `{label}` never occurs in the training data {} (its labels: {})",
                a.train.display(),
                label_list(&labels)
            ))
        }
    };
    let dev = a
        .dev
        .as_ref()
        .map(|p| a.format.read(p, a.skip_invalid, Some(&dev_label)))
        .transpose()?
        .map(rename);
    Ok((train, dev))
}

/// `--init`: a pretrained encoder directory, `auto` (the training data decide) or `none`.
#[derive(Debug, Clone)]
enum InitArg {
    Dir(PathBuf),
    Auto,
    None,
}

impl std::str::FromStr for InitArg {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "auto" => Self::Auto,
            "none" => Self::None,
            "" => return Err("expected a directory, `auto` or `none`".into()),
            _ => Self::Dir(PathBuf::from(s)),
        })
    }
}

/// A number, or `auto` (`None`: the training data decide), as `--ngram-buckets`,
/// `--adversarial`, `--epochs` and `--ema` take.
#[derive(Debug, Clone, Copy)]
struct OrAuto<T>(Option<T>);

impl<T: std::str::FromStr> std::str::FromStr for OrAuto<T> {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self(None)),
            _ => (s.parse().map(|x| Self(Some(x))))
                .map_err(|_| format!("expected a number or `auto`, found `{s}`")),
        }
    }
}

impl TrainArgs {
    fn config(&self, device: DeviceSpec) -> TrainConfig {
        TrainConfig {
            cell: self.cell,
            embedding_dim: self.embedding_dim,
            ngram_buckets: self.ngram_buckets.0,
            hidden_size: self.hidden,
            num_layers: self.layers,
            bidirectional: self.bidirectional,
            pooling: self.pooling,
            dropout: self.dropout,
            embedding_dropout: self.embedding_dropout,
            word_dropout: self.word_dropout,
            adversarial: self.adversarial.0,
            epochs: self.epochs.0,
            batch_size: self.batch_size,
            lr: self.lr,
            lr_schedule: self.lr_schedule,
            warmup: self.warmup,
            embedding_lr_scale: self.embedding_lr_scale,
            weight_decay: self.weight_decay,
            clip_norm: self.clip_norm,
            max_length: self.max_length,
            truncation: self.truncate,
            patience: self.patience,
            ema: self.ema.0,
            dev_fraction: self.dev_fraction,
            seed: self.seed,
            tokenizer: TokenizerConfig {
                lowercase: !self.keep_case,
                min_count: self.min_count,
                max_vocab: self.max_vocab,
            },
            embeddings: match (&self.vectors, self.pretrain_word2vec) {
                (Some(path), _) => EmbeddingInit::Vectors { path: path.clone() },
                (None, true) => EmbeddingInit::Word2Vec {
                    unlabeled: self.unlabeled.clone(),
                    unlabeled_words: self.unlabeled_words,
                },
                (None, false) => EmbeddingInit::Random,
            },
            freeze_embeddings: self.freeze_embeddings,
            encoder: match (&self.init, self.pretrain_lm) {
                (InitArg::Dir(dir), _) => EncoderInit::Pretrained { dir: dir.clone() },
                (_, true) => EncoderInit::PretrainLm {
                    unlabeled: self.unlabeled.clone(),
                    epochs: self.pretrain_epochs,
                },
                (InitArg::Auto, false) => EncoderInit::Auto,
                (InitArg::None, false) => EncoderInit::Random,
            },
            encoder_lr_scale: self.encoder_lr_scale,
            gradual_unfreezing: self.gradual_unfreezing,
            self_train: self.self_train.as_ref().map(|path| SelfTrain {
                unlabeled: path.clone(),
                keep: self.self_train_keep,
            }),
            device,
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
                    self.checkpoint_dir
                        .clone()
                        .unwrap_or_else(|| self.out.join("checkpoint")),
                ),
                resume: false,
            },
        })
    }
}

/// The progress bar and the lines printed above it; a Ctrl-C asks the run to stop.
struct Progress {
    bar: ProgressBar,
    quiet: bool,
    stop: Arc<AtomicBool>,
    /// Whether the run has a dev set (known from its `Started` event).
    dev: bool,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        Self {
            bar: epoch_bar(quiet),
            quiet,
            stop: interrupt_flag(),
            dev: true,
        }
    }

    fn say(&self, line: String) {
        say_above(&self.bar, self.quiet, line);
    }

    fn on_event(&mut self, event: &TrainEvent) -> ControlFlow<()> {
        self.show(event, "");
        if self.stop.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Prints an event; `who` starts the lines of a teacher's events.
    fn show(&mut self, event: &TrainEvent, who: &str) {
        match event {
            TrainEvent::Started {
                first_epoch,
                train_examples,
                train_tokens,
                dev_examples,
                vocab_size,
                labels,
                parameters,
                adversarial,
                epochs,
                ema,
                ..
            } => {
                self.dev = *dev_examples > 0;
                self.say(format!(
                    "{who}training on {train_examples} examples ({train_tokens} tokens), dev {dev_examples}; vocabulary {vocab_size}; labels {}; {parameters} parameters; at most {epochs} epochs{}{}{}",
                    label_list(labels),
                    if *adversarial > 0.0 { format!("; adversarial {adversarial}") } else { String::new() },
                    if *ema > 0.0 { format!("; averaging the weights ({ema})") } else { String::new() },
                    if *first_epoch > 1 { format!("; resuming at epoch {first_epoch}") } else { String::new() }
                ));
            }
            TrainEvent::Step {
                epoch,
                step,
                steps,
                loss,
                accuracy,
                tokens_per_second,
                ..
            } => {
                if *step == 1 {
                    self.bar.reset();
                    self.bar.set_length(*steps as u64);
                    self.bar.set_prefix(format!("{who}{epoch}"));
                }
                self.bar.set_position(*step as u64);
                self.bar.set_message(format!(
                    "loss {loss:.4} acc {accuracy:.4} {tokens_per_second:.0} tok/s"
                ));
            }
            TrainEvent::Epoch(r) => self.say(format!("{who}{}", epoch_line(r, self.dev))),
            TrainEvent::Checkpoint { .. } => {}
            TrainEvent::PretrainedEncoder {
                vocab_size,
                builtin: true,
                ..
            } => self.say(format!(
                "{who}the texts are Chinese: the word vectors and the encoder start from the built-in Chinese encoder (vocabulary {vocab_size}; --init none starts them fresh)"
            )),
            TrainEvent::PretrainedEncoder {
                objective,
                vocab_size,
                builtin: false,
            } => self.say(format!(
                "{who}the word vectors and the encoder start from a pretrained encoder ({objective} objective, vocabulary {vocab_size})"
            )),
            TrainEvent::Pretraining(event) => match event {
                PretrainEvent::Step {
                    epoch,
                    step,
                    steps,
                    loss,
                    tokens_per_second,
                    ..
                } => {
                    if *step == 1 {
                        self.bar.reset();
                        self.bar.set_length(*steps as u64);
                        self.bar.set_prefix(format!("{who}lm {epoch}"));
                    }
                    self.bar.set_position(*step as u64);
                    self.bar.set_message(format!(
                        "loss {loss:.4} {tokens_per_second:.0} tok/s"
                    ));
                }
                other => {
                    if let Some(line) = super::pretrain::describe(other) {
                        self.say(format!("{who}language model: {line}"));
                    }
                }
            },
            TrainEvent::Embeddings { matched, words } => self.say(format!(
                "{who}word vectors cover {matched} of {words} vocabulary words ({:.1}%)",
                100.0 * *matched as f64 / (*words).max(1) as f64
            )),
            TrainEvent::Teacher(inner) => self.show(inner, "teacher: "),
            TrainEvent::PseudoLabels(added) => self.say(pseudo_label_line(added)),
        }
    }
}

fn print_summary(report: &TrainReport, dir: &Path) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let dev = report.dev_examples > 0;
    writeln!(
        out,
        "epoch  train loss  train acc  dev loss  dev acc  dev macro-F1  seconds"
    )?;
    for r in &report.epochs {
        let figures = if dev {
            format!(
                "{:>8.4}  {:>7.4}  {:>12.4}",
                r.dev_loss, r.dev_accuracy, r.dev_macro_f1
            )
        } else {
            format!("{:>8}  {:>7}  {:>12}", "-", "-", "-")
        };
        writeln!(
            out,
            "{:>5}  {:>10.4}  {:>9.4}  {figures}  {:>7.1}{}",
            r.epoch,
            r.train_loss,
            r.train_accuracy,
            r.seconds,
            if r.epoch == report.best_epoch {
                "  *"
            } else {
                ""
            }
        )?;
    }
    if let Some(added) = &report.self_training {
        writeln!(out, "{}", pseudo_label_line(added))?;
    }
    let kept = if dev {
        format!(
            "dev accuracy {:.4}, macro-F1 {:.4}",
            report.dev_accuracy, report.dev_macro_f1
        )
    } else {
        "the last; no dev set".to_string()
    };
    let whose = match report.self_training {
        Some(_) => "for the student",
        None => "in all",
    };
    writeln!(
        out,
        "kept epoch {} ({kept}); {:.1} s {whose}; saved to {}",
        report.best_epoch,
        report.seconds,
        dir.display()
    )?;
    Ok(())
}

fn pseudo_label_line(added: &SelfTraining) -> String {
    let kept: Vec<String> = (added.kept.iter())
        .map(|(label, n)| format!("{n} {label}"))
        .collect();
    format!(
        "self-training: the teacher (epoch {}, dev accuracy {:.4}, {:.1} s) labelled {} texts; the student adds {} (probability at least {:.4})",
        added.teacher_epoch,
        added.teacher_dev_accuracy,
        added.teacher_seconds,
        added.texts,
        kept.join(", "),
        added.min_confidence
    )
}

fn epoch_line(r: &EpochRecord, dev: bool) -> String {
    let dev_figures = if dev {
        format!(
            "dev loss {:.4} acc {:.4} macro-F1 {:.4}",
            r.dev_loss, r.dev_accuracy, r.dev_macro_f1
        )
    } else {
        "no dev set".to_string()
    };
    format!(
        "epoch {}: train loss {:.4} acc {:.4} | {dev_figures} | lr {:.2e} | {:.1} s, {:.0} tok/s{}",
        r.epoch,
        r.train_loss,
        r.train_accuracy,
        r.lr,
        r.seconds,
        r.tokens_per_second,
        if r.best && dev { " (best so far)" } else { "" }
    )
}
