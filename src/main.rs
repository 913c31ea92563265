//! The `lstm-sentiment` command: parse arguments, run, and report errors with their causes.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2; --help and --version exit with 0.
    let args = cli::Cli::parse();
    set_kernel_threads(args.threads);
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

/// candle's matrix products split even small matrices over every core and its worker pool
/// spins, so one thread per product is the default. `scripts/bench-threads.sh` measures it: on
/// 2 vCPUs an epoch of 2000 SST-2 sentences took 2.2 s with two threads and 1.8 s with one on the
/// candle-op path (`LSTM_SENTIMENT_KERNEL=reference`), 0.8 s either way with the fused kernel.
/// `--threads` wins, then a user's own RAYON_NUM_THREADS / CANDLE_NUM_THREADS, then 1.
fn set_kernel_threads(threads: Option<usize>) {
    for var in ["RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"] {
        // Safe here: no other thread has started yet.
        match threads {
            Some(n) => std::env::set_var(var, n.max(1).to_string()),
            None if std::env::var_os(var).is_none() => std::env::set_var(var, "1"),
            None => {}
        }
    }
}
