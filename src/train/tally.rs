//! An epoch's figures: running sums over its steps, and the dev evaluation.

use super::encoded::Encoded;
use crate::classifier::argmax;
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::model::Model;
use candle_core::{Device, Tensor};

/// Running sums of an epoch's steps.
#[derive(Default)]
pub(super) struct Totals {
    pub steps: usize,
    loss_sum: f64,
    correct: usize,
    seen: usize,
    pub tokens: usize,
}

impl Totals {
    pub fn add(&mut self, loss: f64, logits: &[Vec<f32>], y: &[u32], tokens: usize) {
        self.steps += 1;
        self.loss_sum += loss * y.len() as f64;
        for (row, &gold) in logits.iter().zip(y) {
            self.correct += usize::from(argmax(row) == gold as usize);
        }
        self.seen += y.len();
        self.tokens += tokens;
    }

    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }

    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.seen.max(1) as f64
    }
}

/// Dev loss and figures, without dropout or gradients.
pub(super) fn evaluate(
    model: &Model,
    data: &Encoded,
    device: &Device,
) -> Result<(f64, Evaluation)> {
    let (ids, y) = (&data.dev.ids, &data.dev.y);
    let mut predicted = vec![0usize; ids.len()];
    let mut loss_sum = 0.0;
    model.forward_sorted(ids, 256, device, |texts, out| {
        let targets: Vec<u32> = texts.iter().map(|&i| y[i]).collect();
        let targets = Tensor::new(targets.as_slice(), device)?;
        let loss = candle_nn::loss::cross_entropy(&out.logits, &targets)?;
        loss_sum += f64::from(loss.to_scalar::<f32>()?) * texts.len() as f64;
        for (&i, row) in texts.iter().zip(out.logits.to_vec2::<f32>()?) {
            predicted[i] = argmax(&row);
        }
        Ok::<_, Error>(())
    })?;
    let gold: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let eval = Evaluation::from_predictions(&data.labels, &gold, &predicted)?;
    Ok((loss_sum / ids.len().max(1) as f64, eval))
}
