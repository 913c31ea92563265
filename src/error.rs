//! One error type for the library: every variant says where (file, line, tensor) and what.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Errors returned by the library. The CLI prints them with their cause chain.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {action}")]
    Io {
        path: PathBuf,
        /// What was being done, e.g. "cannot read".
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A data file has a bad line (1-based line numbers; 0 when the whole file is at fault).
    #[error("{}", location(path, *line, message))]
    Data {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A model directory or one of its files is not what config.json promises.
    #[error("{path}: {message}")]
    Model { path: PathBuf, message: String },
    /// Tokenizer construction or encoding failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Options that cannot work together (e.g. zero hidden units, fewer than two labels).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Training was stopped by the caller (a progress callback asked to stop).
    #[error("training was cancelled")]
    Cancelled,
    /// Training turned non-finite before any epoch finished with finite weights (with such an
    /// epoch, training returns it and records the divergence in its report instead).
    #[error("{0}")]
    Diverged(Divergence),
    /// A picture could not be drawn.
    #[error("cannot draw the plot: {0}")]
    Plot(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Where a run's numbers stopped being finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    pub epoch: usize,
    /// The 1-based step within the epoch; after the epoch's last step for what is found at the
    /// end of an epoch (its weights, its dev loss).
    pub step: usize,
    /// What turned non-finite, e.g. "the loss is NaN".
    pub what: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "training diverged at epoch {}, step {}: {}; try a lower learning rate, gradient \
             clipping or smaller starting word vectors",
            self.epoch, self.step, self.what
        )
    }
}

fn location(path: &std::path::Path, line: usize, message: &str) -> String {
    if line == 0 {
        format!("{}: {message}", path.display())
    } else {
        format!("{}:{line}: {message}", path.display())
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            path: path.into(),
            action,
            source,
        }
    }

    pub(crate) fn data(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Model {
            path: path.into(),
            message: message.into(),
        }
    }
}
