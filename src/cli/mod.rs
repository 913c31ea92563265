//! Command-line arguments and dispatch; each subcommand lives in its own file.

mod convert;
mod eval;
mod predict;
mod pretrain;
mod train;
mod word2vec;

use anyhow::{Context, Result};
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use lstm_sentiment::data::{read_examples_with, LineChecks};
use lstm_sentiment::{Classifier, DeviceSpec, Format, ReadOptions};
use std::path::{Path, PathBuf};

/// Sentiment and text classification with LSTM, GRU or RNN encoders.
///
/// Without --model, every command uses the built-in English/Chinese sentiment model.
#[derive(Parser)]
#[command(name = "lstm-sentiment", version, about, long_about = None)]
pub struct Cli {
    /// Threads for the recurrent kernel and the tokenizer (default: RAYON_NUM_THREADS, else
    /// every core). A batch's texts are split across them; results repeat exactly for a given
    /// number of threads.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    runtime: Runtime,
    #[command(subcommand)]
    command: Command,
}

/// Where and how a model runs.
#[derive(Args)]
struct Runtime {
    /// Where train, predict, eval and embed run: cpu, or cuda / cuda:N in builds with the
    /// `cuda` feature.
    #[arg(
        long,
        global = true,
        value_name = "cpu|cuda[:N]",
        default_value = "cpu"
    )]
    device: DeviceSpec,
    /// predict, eval and embed multiply in bfloat16 (CPUs with AVX512-BF16): faster, and
    /// probabilities move from float32's by about 1e-4 on average.
    #[arg(long, global = true)]
    bf16: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Train a classifier on labelled data and save it as a model directory.
    Train(Box<train::TrainArgs>),
    /// Pretrain an encoder on unlabelled text (a language model or a sequence autoencoder), for
    /// `train --init`.
    Pretrain(Box<pretrain::PretrainArgs>),
    /// Classify texts (arguments, --input FILE, or one per line on stdin).
    Predict(predict::PredictArgs),
    /// Score a model on labelled data: accuracy, per-label precision/recall/F1, confusion matrix.
    Eval(eval::EvalArgs),
    /// Print sentence vectors (what the output layer reads: by default the encoder's final hidden
    /// state) as JSON lines.
    Embed(predict::EmbedArgs),
    /// Describe a model: cell, sizes, labels, vocabulary, parameters, training figures.
    Info(eval::InfoArgs),
    /// Rewrite a model directory with float32, float16 or bfloat16 weights.
    Convert(convert::ConvertArgs),
    /// Train word vectors (skip-gram or CBOW) on a corpus and write them as a vector file.
    Word2vec(word2vec::Word2VecArgs),
    /// Nearest neighbours of a word by cosine similarity, in a vector file or a model's table.
    Similar(word2vec::SimilarArgs),
    /// Analogies: A is to B as C is to ... (the words closest to B - A + C).
    Analogy(word2vec::AnalogyArgs),
    /// Write a model's embedding table as a word2vec or GloVe vector file.
    ExportEmbeddings(word2vec::ExportArgs),
}

/// Parses the command line (usage errors exit with 2, --help and --version with 0), keeping
/// the matches: some commands fill the flags a user left out from elsewhere.
pub fn parse() -> (Cli, ArgMatches) {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    (cli, matches)
}

pub fn run(cli: Cli, matches: &ArgMatches) -> Result<()> {
    let runtime = &cli.runtime;
    match cli.command {
        Command::Train(a) => {
            let given = matches
                .subcommand_matches("train")
                .expect("train was parsed");
            train::run(*a, runtime.device, given)
        }
        Command::Pretrain(a) => pretrain::run(*a),
        Command::Predict(a) => predict::run_predict(a, runtime),
        Command::Eval(a) => eval::run_eval(a, runtime),
        Command::Embed(a) => predict::run_embed(a, runtime),
        Command::Info(a) => eval::run_info(a),
        Command::Convert(a) => convert::run(a),
        Command::Word2vec(a) => word2vec::run_word2vec(a),
        Command::Similar(a) => word2vec::run_similar(a),
        Command::Analogy(a) => word2vec::run_analogy(a),
        Command::ExportEmbeddings(a) => word2vec::run_export(a),
    }
}

/// `requested` threads capped as [`lstm_sentiment::threads`] says, with a warning on stderr
/// when the cap applies; `source` names where the number came from.
pub fn thread_count(requested: usize, source: &str) -> usize {
    let count = lstm_sentiment::threads::ThreadCount::on_this_machine(requested);
    if count.capped() {
        eprintln!(
            "lstm-sentiment: warning: {source} asks for {requested} threads, more than {} per \
             core on this machine's {} cores; using {}",
            lstm_sentiment::threads::MAX_THREADS_PER_CORE,
            count.cores,
            count.threads
        );
    }
    count.threads
}

/// Which model to use.
#[derive(Args)]
struct ModelArg {
    /// Model directory (config.json, tokenizer.json, model.safetensors), or a Hugging Face Hub
    /// repository as hf:owner/name[@revision]; default: the built-in model.
    #[arg(long, short = 'm', value_name = "DIR|hf:REPO")]
    model: Option<PathBuf>,
    /// Use only the local Hub cache, never the network (also: HF_HUB_OFFLINE=1).
    #[arg(long)]
    offline: bool,
}

impl ModelArg {
    fn load(&self) -> Result<Classifier> {
        match &self.model {
            Some(dir) => {
                let offline = self.offline || lstm_sentiment::hub::offline_from_env();
                Classifier::load_any(&dir.to_string_lossy(), offline)
                    .with_context(|| format!("cannot load the model {}", dir.display()))
            }
            None => Classifier::builtin().context("cannot load the built-in model"),
        }
    }

    /// [`ModelArg::load`], then set up to run as `runtime` says.
    fn load_for(&self, runtime: &Runtime) -> Result<Classifier> {
        let classifier = self.load()?.to_device(runtime.device)?;
        Ok(classifier.with_bf16(runtime.bf16)?)
    }
}

/// How to read a labelled data file.
#[derive(Args)]
struct DataFormatArgs {
    /// File format; by default guessed from the extension (.tsv .csv .jsonl .ft) or the first line.
    #[arg(long, value_enum)]
    format: Option<FormatName>,
    /// CSV: the column holding the text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    text_column: String,
    /// CSV: the column holding the label.
    #[arg(long, default_value = "label", value_name = "NAME")]
    label_column: String,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatName {
    /// label<TAB>text, no header
    Tsv,
    /// comma-separated with a header; see --text-column and --label-column
    Csv,
    /// one {"text": ..., "label": ...} object per line
    Jsonl,
    /// __label__X text
    Fasttext,
}

impl DataFormatArgs {
    fn options(&self) -> ReadOptions {
        let format = self.format.map(|f| match f {
            FormatName::Tsv => Format::Tsv,
            FormatName::Csv => Format::Csv {
                text_column: self.text_column.clone(),
                label_column: self.label_column.clone(),
            },
            FormatName::Jsonl => Format::Jsonl,
            FormatName::Fasttext => Format::FastText,
        });
        ReadOptions {
            format,
            text_column: self.text_column.clone(),
            label_column: self.label_column.clone(),
        }
    }

    /// Reads `path` with a label check; with `skip_invalid`, bad lines are skipped, counted and
    /// the first few shown on stderr.
    fn read(
        &self,
        path: &Path,
        skip_invalid: bool,
        label: Option<lstm_sentiment::data::LabelCheck>,
    ) -> Result<Vec<lstm_sentiment::Example>> {
        let checks = LineChecks {
            skip_invalid,
            label,
        };
        let (examples, skipped) = read_examples_with(path, &self.options(), &checks)?;
        if skipped.count > 0 {
            const SHOWN: usize = 5;
            eprintln!(
                "lstm-sentiment: skipped {} invalid line(s) of {}, kept {}:",
                skipped.count,
                path.display(),
                examples.len()
            );
            for error in skipped.first.iter().take(SHOWN) {
                eprintln!("  {error}");
            }
            if skipped.count > SHOWN {
                eprintln!("  ... and {} more", skipped.count - SHOWN);
            }
        }
        Ok(examples)
    }
}

/// Parses `0=negative,1=positive` into (from, to) pairs.
fn parse_label_map(spec: &str) -> Result<Vec<(String, String)>> {
    spec.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (from, to) = pair
                .split_once('=')
                .with_context(|| format!("label map entry `{pair}` is not FROM=TO"))?;
            let (from, to) = (from.trim(), to.trim());
            anyhow::ensure!(
                !from.is_empty() && !to.is_empty(),
                "label map entry `{pair}` has an empty side"
            );
            Ok((from.to_string(), to.to_string()))
        })
        .collect()
}
