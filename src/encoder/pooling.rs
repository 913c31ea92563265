//! What the head reads of the last layer: each text's final hidden state, or a pooling of the
//! states at all of its steps.
//!
//! A final state has read the whole text, but in a long text the words far from the end reach
//! it only through hundreds of steps; a pooling over every step lets each of them reach the head
//! directly. Each direction of a bidirectional encoder is pooled on its own, and the results are
//! joined forward then backward, as the final states are.

use crate::error::{Error, Result};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};

/// What the head reads of the encoder's last layer, per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Each text's hidden state after its last token (and, backward, after its first).
    #[default]
    Last,
    /// The element-wise max of the hidden states over the text's steps.
    Max,
    /// The mean of the hidden states over the text's steps.
    Mean,
    /// The final state and the max side by side, so the head reads twice the width.
    LastMax,
}

impl Pooling {
    pub const ALL: [Pooling; 4] = [Pooling::Last, Pooling::Max, Pooling::Mean, Pooling::LastMax];

    /// The name config.json and the `--pooling` flag use.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Last => "last",
            Pooling::Max => "max",
            Pooling::Mean => "mean",
            Pooling::LastMax => "last_max",
        }
    }

    /// What the head reads, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Pooling::Last => "the final hidden state",
            Pooling::Max => "the element-wise max of the hidden states over every step",
            Pooling::Mean => "the mean of the hidden states over every step",
            Pooling::LastMax => "the final hidden state and the max over every step, side by side",
        }
    }

    /// How many widths of the last layer's states (directions * hidden) the head reads.
    pub fn width(self) -> usize {
        match self {
            Pooling::LastMax => 2,
            _ => 1,
        }
    }

    /// Whether the last layer must hand on every step's states, not only the final ones.
    pub fn reads_every_step(self) -> bool {
        self != Pooling::Last
    }
}

impl std::str::FromStr for Pooling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let found = Pooling::ALL.into_iter().find(|p| p.name() == s);
        found.ok_or_else(|| {
            Error::Config(format!(
                "unknown pooling `{s}` (expected last, max, mean or last_max)"
            ))
        })
    }
}

impl std::fmt::Display for Pooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The sentence vectors (batch, width * features) of a pooling that reads every step, from the
/// last layer's `finals` (batch, features) and `every_step` (time, batch, features) states.
///
/// Past a text's end its state is carried unchanged, so the padded steps hold copies of the
/// final state; they are masked out all the same, so that their gradient does not count the
/// final state again. An empty text counts its first step, which holds the zero initial state:
/// its max and mean are zeros, as its final state is.
pub(super) fn pool(
    pooling: Pooling,
    finals: impl FnOnce() -> candle_core::Result<Tensor>,
    every_step: &Tensor,
    lengths: &[usize],
) -> candle_core::Result<Tensor> {
    let (time, batch, _) = every_step.dims3()?;
    let (dtype, device) = (every_step.dtype(), every_step.device());
    let inside: Vec<u8> = (0..time)
        .flat_map(|t| lengths.iter().map(move |&len| u8::from(t < len.max(1))))
        .collect();
    let inside = Tensor::from_vec(inside, (time, batch, 1), device)?;
    let max = || {
        let floor = Tensor::new(f32::NEG_INFINITY, device)?.to_dtype(dtype)?;
        let floor = floor.broadcast_as(every_step.shape())?;
        let inside = inside.broadcast_as(every_step.shape())?;
        inside.where_cond(every_step, &floor)?.max(0)
    };
    match pooling {
        Pooling::Last => finals(),
        Pooling::Max => max(),
        Pooling::Mean => {
            let counts: Vec<f32> = lengths.iter().map(|&len| len.max(1) as f32).collect();
            let counts = Tensor::from_vec(counts, (batch, 1), device)?.to_dtype(dtype)?;
            let sums = every_step.broadcast_mul(&inside.to_dtype(dtype)?)?.sum(0)?;
            sums.broadcast_div(&counts)
        }
        Pooling::LastMax => Tensor::cat(&[finals()?, max()?], D::Minus1),
    }
}
