//! How well a pretrained encoder predicts text: the exact negative log-likelihood of the words
//! its objective predicts, for held-out perplexity and for [`Pretrained::log_likelihood`].

use super::config::Objective;
use super::objective::Head;
use super::pretrained::Pretrained;
use super::sampled::exact_nll;
use super::windows::Windows;
use crate::config::{EncoderShape, EMBEDDING_TENSOR};
use crate::embedding::Embedding;
use crate::error::{Error, Result};
use crate::model::{encoder_from_weights, Batch, Weights};

/// The summed negative log-likelihood of every prediction in `windows` under the exact softmax,
/// and the number of predictions, in batches of `batch_size` windows of similar lengths.
pub(super) fn score_windows(
    objective: Objective,
    shape: &EncoderShape,
    weights: &Weights,
    windows: &[Vec<u32>],
    batch_size: usize,
) -> Result<(f64, usize)> {
    let encoder = encoder_from_weights(shape, weights)?;
    let head = Head::new(objective, shape, weights)?;
    let table = weights
        .get(EMBEDDING_TENSOR)
        .ok_or_else(|| Error::Config("no embedding to score with".into()))?;
    let mut order: Vec<&Vec<u32>> = windows.iter().collect();
    order.sort_by_key(|w| w.len());
    let (mut nll, mut count) = (0.0, 0usize);
    for chunk in order.chunks(batch_size.max(1)) {
        let chunk: Vec<Vec<u32>> = chunk.iter().map(|w| w.to_vec()).collect();
        let batch = Batch::new(&chunk, table.device())?;
        let xs =
            Embedding::new(table.clone()).forward_with_host_ids(&batch.ids, batch.host_ids())?;
        let predicted = head.predict(&encoder, &xs, &batch.steps, None)?;
        let targets = token_at(&chunk, &predicted.targets);
        nll += exact_nll(&predicted.z, table, head.bias(), &targets)?;
        count += targets.len();
    }
    Ok((nll, count))
}

/// The token at each flat (time * batch) position of a batch of `windows`.
pub(super) fn token_at(windows: &[Vec<u32>], positions: &[usize]) -> Vec<u32> {
    let batch = windows.len();
    (positions.iter())
        .map(|&p| windows[p % batch][p / batch])
        .collect()
}

/// What [`Pretrained::log_likelihood`] gives for one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextScore {
    /// The summed negative log-likelihood (natural log) of the predicted words.
    pub nll: f64,
    /// How many words were predicted: in each window of `max_length` tokens, all but one
    /// (language model; twice that, one per direction, when bidirectional) or all of them
    /// (autoencoder). Windows of one token predict nothing.
    pub predictions: usize,
}

impl Pretrained {
    /// How well the encoder's objective predicts each of `texts`, read as pretraining reads
    /// them (tokenized whole, cut into windows of the config's `max_length`).
    pub fn log_likelihood<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<TextScore>> {
        let config = &self.config;
        let mut scores = Vec::with_capacity(texts.len());
        for text in texts {
            let ids = self.tokenizer.encode(text.as_ref(), usize::MAX)?;
            let windows = Windows::cut(&[ids], config.max_length);
            let (nll, predictions) = score_windows(
                config.objective,
                &config.shape,
                &self.weights,
                &windows.ids,
                64,
            )?;
            scores.push(TextScore { nll, predictions });
        }
        Ok(scores)
    }
}
