//! What `train` and `pretrain` share on the terminal: the epoch bar and the lines above it,
//! Ctrl-C, and the checkpoint directory --resume names.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use lstm_sentiment::train::{resumes_self_training, CHECKPOINT_FILE};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The checkpoint directory named by --resume: the directory itself or its `checkpoint/`.
pub fn resume_dir(dir: &Path) -> Result<PathBuf> {
    for candidate in [dir.to_path_buf(), dir.join("checkpoint")] {
        if candidate.join(CHECKPOINT_FILE).is_file() || resumes_self_training(&candidate) {
            return Ok(candidate);
        }
    }
    anyhow::bail!(
        "{}: no {CHECKPOINT_FILE} here or in its checkpoint/ directory",
        dir.display()
    )
}

/// The bar of a run's epochs on stderr, hidden with `quiet`.
pub fn epoch_bar(quiet: bool) -> ProgressBar {
    let bar = if quiet {
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
    bar
}

/// Prints `line` above `bar` (on stderr, as a plain line when the bar is hidden because stderr
/// is not a terminal), unless `quiet`.
pub fn say_above(bar: &ProgressBar, quiet: bool, line: String) {
    if quiet {
        return;
    }
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// Set by the first Ctrl-C: training stops after its current step and the best epoch is saved.
/// A second Ctrl-C exits at once.
pub fn interrupt_flag() -> Arc<AtomicBool> {
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
