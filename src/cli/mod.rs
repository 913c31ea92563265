//! Command-line arguments and dispatch; each subcommand lives in its own file, the arguments
//! several of them share in `args`.

mod args;
mod convert;
mod eval;
mod explain;
mod predict;
mod pretrain;
mod progress;
#[cfg(feature = "serve")]
mod serve;
mod show;
mod train;
mod word2vec;

use anyhow::Result;
use args::Runtime;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

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

#[derive(Subcommand)]
enum Command {
    /// Train a classifier on labelled data and save it as a model directory.
    Train(Box<train::TrainArgs>),
    /// Pretrain an encoder on unlabelled text (a language model or a sequence autoencoder), for
    /// `train --init`.
    Pretrain(Box<pretrain::PretrainArgs>),
    /// Classify texts (arguments, --input FILE, or one per line on stdin).
    Predict(predict::PredictArgs),
    /// Show how much each token pushed a prediction (occlusion: the drop in the predicted
    /// label's probability when the token becomes unknown); texts as for predict.
    Explain(explain::ExplainArgs),
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
    /// Serve a model over HTTP: POST /predict, /embed, /explain; GET /health, /info, /metrics,
    /// /api-doc/openapi.json, and a page at / (docs/serve.md).
    #[cfg(feature = "serve")]
    Serve(Box<serve::ServeArgs>),
    /// Redraw a model directory's report.svg (loss and accuracy by epoch, the dev confusion
    /// matrix) from its training.json.
    Report(show::ReportArgs),
    /// Print a shell completion script: `lstm-sentiment completions bash >
    /// ~/.local/share/bash-completion/completions/lstm-sentiment` (zsh: a file `_lstm-sentiment`
    /// in a directory of $fpath; fish: ~/.config/fish/completions/lstm-sentiment.fish;
    /// PowerShell: add the output to $PROFILE).
    Completions(show::CompletionsArgs),
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
        Command::Explain(a) => explain::run_explain(a, runtime),
        Command::Eval(a) => eval::run_eval(a, runtime),
        Command::Embed(a) => predict::run_embed(a, runtime),
        Command::Info(a) => eval::run_info(a),
        Command::Convert(a) => convert::run(a),
        Command::Word2vec(a) => word2vec::run_word2vec(a),
        Command::Similar(a) => word2vec::run_similar(a),
        Command::Analogy(a) => word2vec::run_analogy(a),
        Command::ExportEmbeddings(a) => word2vec::run_export(a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::run_serve(*a, runtime),
        Command::Report(a) => show::run_report(a),
        Command::Completions(a) => show::run_completions(a, Cli::command()),
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
