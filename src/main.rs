//! The `lstm-sentiment` command: parse arguments, run, and report errors with their causes.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    single_threaded_kernels_by_default();
    // clap prints usage errors itself and exits with 2; --help and --version exit with 0.
    let args = cli::Cli::parse();
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

/// candle's matrix products split even small matrices over every core, and its worker pool
/// spins; for this model's sizes one thread per product is several times faster (measured with
/// scripts/bench-threads.sh). A user's own RAYON_NUM_THREADS / CANDLE_NUM_THREADS still win.
fn single_threaded_kernels_by_default() {
    for var in ["RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            // Safe here: no other thread has started yet.
            std::env::set_var(var, "1");
        }
    }
}
