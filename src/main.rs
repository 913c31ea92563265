//! The `lstm-sentiment` command: parse arguments, run, and report errors with their causes.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2; --help and --version exit with 0.
    let (args, matches) = cli::parse();
    lstm_sentiment::keep_freed_memory();
    set_threads(args.threads);
    match cli::run(args, &matches) {
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
/// `scripts/bench/threads.sh` measures both. Counts far above the cores are capped, with a
/// warning (see `lstm_sentiment::threads`).
fn set_threads(threads: Option<usize>) {
    let from_env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
    };
    // Safe here: no other thread has started yet.
    if let Some(n) = threads {
        let n = cli::thread_count(n, "--threads");
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    } else if let Some(n) = from_env("RAYON_NUM_THREADS") {
        let n = cli::thread_count(n, "RAYON_NUM_THREADS");
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    if let Some(n) = from_env("CANDLE_NUM_THREADS") {
        let n = cli::thread_count(n, "CANDLE_NUM_THREADS");
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    } else if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}
