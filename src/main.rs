//! The `lstm-sentiment` command: parse arguments, run, and report errors with their causes.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2; --help and --version exit with 0.
    let args = cli::Cli::parse();
    lstm_sentiment::keep_freed_memory();
    set_threads(args.threads);
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lstm-sentiment: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `lstm-sentiment predict ... | head` closing the pipe early is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `--threads` (else RAYON_NUM_THREADS, else every core) sizes rayon's pool, which runs the
/// recurrent kernel's parts of each batch and the tokenizer. candle's own matrix products are
/// only the small ones around the kernel; split over several threads they cost more than they
/// save and candle's worker pool spins, so CANDLE_NUM_THREADS defaults to 1.
/// `scripts/bench-threads.sh` measures both.
fn set_threads(threads: Option<usize>) {
    // Safe here: no other thread has started yet.
    if let Some(n) = threads {
        std::env::set_var("RAYON_NUM_THREADS", n.max(1).to_string());
    }
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}
