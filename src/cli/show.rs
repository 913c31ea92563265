//! `report` and `completions`: a model's training report redrawn, and shell completion scripts.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ReportArgs {
    /// A model directory written by `train` (its training.json, or else the report its
    /// config.json records).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Where to write the picture (`-`: standard output); default: DIR/report.svg.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run_report(args: ReportArgs) -> Result<()> {
    let report = lstm_sentiment::model_dir::read_training_report(&args.dir)?;
    let svg = lstm_sentiment::report::training_svg(&report)?;
    let out = (args.out).unwrap_or_else(|| args.dir.join(lstm_sentiment::report::REPORT_FILE));
    super::args::write_output(&out, svg.as_bytes())
}

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

/// Prints the completion script of `command` (the whole CLI); how to install it is in
/// `completions --help`.
pub fn run_completions(args: CompletionsArgs, mut command: clap::Command) -> Result<()> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "lstm-sentiment", &mut out);
    std::io::Write::flush(&mut out).context("cannot write the completion script")
}
