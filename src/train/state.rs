//! What training changes from step to step: the dense parameters as candle Vars with their
//! AdamW, the embedding table (and the bigram table, with bigrams) with its row-sparse AdamW,
//! and the best epoch kept so far; with their checkpoints.

use super::checkpoint::{Checkpoint, Progress};
use super::guard::non_finite_step;
use crate::config::ModelConfig;
use crate::dropout::Dropout;
use crate::embedding::Embedding;
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::model::{padded, Batch, Model, Weights};
use crate::optim::{clip_factor, compact_ids, global_norm, DenseAdamW, SparseRows};
use candle_core::{Device, Tensor, Var};
use candle_nn::ParamsAdamW;
use std::path::Path;

pub(super) use crate::config::EMBEDDING_TENSOR as EMBEDDING;
use crate::config::NGRAM_EMBEDDING_TENSOR as NGRAMS;

/// `weights` with the tables trained row by row: the embedding and, where given, the bigrams.
fn with_tables(weights: &Weights, embedding: Tensor, ngrams: Option<Tensor>) -> Weights {
    let mut all = weights.clone();
    all.insert(EMBEDDING.to_string(), embedding);
    if let Some(ngrams) = ngrams {
        all.insert(NGRAMS.to_string(), ngrams);
    }
    all
}

/// The best epoch so far and its weights.
pub(super) struct Best {
    pub(super) epoch: usize,
    pub(super) weights: Weights,
    pub(super) accuracy: f64,
    pub(super) macro_f1: f64,
}

impl Best {
    pub(super) fn new(epoch: usize, weights: Weights, eval: &Evaluation) -> Self {
        Self {
            epoch,
            weights,
            accuracy: eval.accuracy,
            macro_f1: eval.macro_f1,
        }
    }
}

/// What one optimizer step did.
pub(super) enum Stepped {
    /// The weights moved; the batch's mean loss, its logits and its real tokens.
    Done {
        loss: f64,
        logits: Vec<Vec<f32>>,
        tokens: usize,
    },
    /// The loss or the gradient was not finite (the message says which); nothing moved.
    NonFinite(String),
}

/// The trainable state: dense parameters as candle Vars with their AdamW, and the embedding
/// table with its row-sparse AdamW.
pub(super) struct TrainState {
    vars: Vec<(String, Var)>,
    pub(super) live: Weights,
    dense: DenseAdamW,
    embedding: SparseRows,
    /// The bigram table and its number of buckets, with bigrams. It learns with the
    /// embedding's learning rate, and also when the word vectors are frozen: it starts at
    /// zero, and every step updates it (so its step count is the dense optimizer's).
    ngrams: Option<(SparseRows, usize)>,
    frozen_embedding: bool,
}

/// A table's rows for one batch: its distinct rows as a Var (their gradient is the table's)
/// and the vectors of every position.
struct Looked {
    rows: Vec<u32>,
    var: Var,
    /// (time, batch, dim)
    xs: Tensor,
}

impl Looked {
    /// The rows of `table` at `ids` (texts of a batch, padded to `time` steps).
    fn up(table: &SparseRows, ids: &[Vec<u32>], time: usize, device: &Device) -> Result<Self> {
        let (rows, local) = compact_ids(ids);
        let var = Var::from_tensor(&table.gather(&rows, device)?)?;
        // Padding reads local row 0, one of the batch's own: no other row is touched.
        let at = Tensor::from_vec(padded(&local, time), (time, ids.len()), device)?;
        let xs = Embedding::new(var.as_tensor().clone()).forward(&at)?;
        Ok(Self { rows, var, xs })
    }
}

impl TrainState {
    pub(super) fn new(
        config: &ModelConfig,
        mut init: Weights,
        frozen_embedding: bool,
        params: ParamsAdamW,
    ) -> Result<Self> {
        let table = init
            .remove(EMBEDDING)
            .ok_or_else(|| Error::Config("no embedding to train".into()))?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let embedding = SparseRows::new(table, config.embedding_dim, params.clone());
        let ngrams = match init.remove(NGRAMS) {
            Some(t) => {
                let table = SparseRows::new(t.flatten_all()?.to_vec1()?, t.dim(1)?, params.clone());
                Some((table, config.ngram_buckets))
            }
            None => None,
        };
        // Vars in name order: the optimizer then visits them in the same order every run.
        let vars: Vec<(String, Var)> = init
            .into_iter()
            .map(|(k, t)| Ok((k, Var::from_tensor(&t)?)))
            .collect::<Result<_>>()?;
        let live = vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        let dense = DenseAdamW::new(&vars, params);
        Ok(Self {
            vars,
            live,
            dense,
            embedding,
            ngrams,
            frozen_embedding,
        })
    }

    /// The learning rates of the steps to come: `dense` for the network, `embedding` for the
    /// tables.
    pub(super) fn set_lr(&mut self, dense: f64, embedding: f64) {
        self.dense.set_lr(dense);
        self.embedding.set_lr(embedding);
        if let Some((table, _)) = &mut self.ngrams {
            table.set_lr(embedding);
        }
    }

    /// The batch's rows of the word table and, with bigrams, of the bigram table, for texts
    /// padded to `time` steps.
    fn look_up(
        &self,
        seqs: &[Vec<u32>],
        time: usize,
        device: &Device,
    ) -> Result<(Looked, Option<Looked>)> {
        let words = Looked::up(&self.embedding, seqs, time, device)?;
        let Some((table, buckets)) = &self.ngrams else {
            return Ok((words, None));
        };
        let ids: Vec<Vec<u32>> = (seqs.iter())
            .map(|s| crate::ngram::text_buckets(s, *buckets))
            .collect();
        Ok((words, Some(Looked::up(table, &ids, time, device)?)))
    }

    /// One optimizer step on a batch. A non-finite loss or gradient norm changes nothing and
    /// comes back as [`Stepped::NonFinite`].
    pub(super) fn step(
        &mut self,
        model: &Model,
        seqs: &[Vec<u32>],
        y: &[u32],
        dropout: &mut Dropout,
        clip_norm: f64,
        device: &Device,
    ) -> Result<Stepped> {
        let batch = Batch::new(seqs, device)?;
        let targets = Tensor::new(y, device)?;
        let (words, ngrams) = self.look_up(seqs, batch.ids.dim(0)?, device)?;
        let xs = match &ngrams {
            Some(ngrams) => (&words.xs + &ngrams.xs)?,
            None => words.xs.clone(),
        };
        let out = model.forward_embedded(xs, &batch.steps, Some(dropout))?;
        let loss = candle_nn::loss::cross_entropy(&out.logits, &targets)?;
        let loss_value = f64::from(loss.to_scalar::<f32>()?);
        let grads = loss.backward()?;
        let row_grad = |looked: &Looked, what: &str| {
            (grads.get(looked.var.as_tensor()))
                .ok_or_else(|| Error::Config(format!("the {what} received no gradient")))
        };
        let word_grad = row_grad(&words, "embedding")?;
        let ngram_grad = match &ngrams {
            Some(n) => Some((n, row_grad(n, "bigram table")?)),
            None => None,
        };
        let norm = global_norm(
            self.vars
                .iter()
                .filter_map(|(_, v)| grads.get(v.as_tensor()))
                .chain(std::iter::once(word_grad))
                .chain(ngram_grad.map(|(_, g)| g)),
        )?;
        if let Some(what) = non_finite_step(loss_value, norm) {
            return Ok(Stepped::NonFinite(what));
        }
        let factor = clip_factor(norm, clip_norm);
        self.dense.step(&grads, factor)?;
        if !self.frozen_embedding {
            (self.embedding).update(&words.rows, &word_grad.affine(factor, 0.0)?)?;
        }
        if let (Some((table, _)), Some((looked, grad))) = (&mut self.ngrams, ngram_grad) {
            table.update(&looked.rows, &grad.affine(factor, 0.0)?)?;
        }
        Ok(Stepped::Done {
            loss: loss_value,
            logits: out.logits.to_vec2::<f32>()?,
            tokens: batch.token_count(),
        })
    }

    /// The current weights without the autograd graph (views of the live storage).
    pub(super) fn weights(&self, device: &Device) -> Result<Weights> {
        let detached = self
            .live
            .iter()
            .map(|(k, t)| (k.clone(), t.detach()))
            .collect();
        let ngrams = (self.ngrams.as_ref())
            .map(|(table, _)| table.to_tensor(device))
            .transpose()?;
        let embedding = self.embedding.to_tensor(device)?;
        Ok(with_tables(&detached, embedding, ngrams))
    }

    /// The weights with 1 x 1 placeholders for the tables trained row by row: for the network
    /// that training enters after its own lookup.
    pub(super) fn placeholder_weights(&self, device: &Device) -> Result<Weights> {
        let placeholder = || Tensor::zeros((1, 1), candle_core::DType::F32, device);
        let ngrams = self.ngrams.as_ref().map(|_| placeholder()).transpose()?;
        Ok(with_tables(&self.live, placeholder()?, ngrams))
    }

    pub(super) fn checkpoint(
        &self,
        mut progress: Progress,
        best: Option<&Best>,
        device: &Device,
    ) -> Result<Checkpoint> {
        let mut tensors = std::collections::BTreeMap::new();
        for (name, t) in self.weights(device)? {
            tensors.insert(format!("weights/{name}"), t.copy()?);
        }
        let (dense_step, moments) = self.dense.state();
        let (sparse_step, _, m, v) = self.embedding.state();
        let ngrams = (self.ngrams.as_ref()).map(|(table, _)| {
            let (_, _, m, v) = table.state();
            (NGRAMS, m, v)
        });
        for (name, m, v) in moments.into_iter().chain([(EMBEDDING, m, v)]).chain(ngrams) {
            for (kind, values) in [("adam_m", m), ("adam_v", v)] {
                let t = Tensor::from_slice(values, values.len(), device)?;
                tensors.insert(format!("{kind}/{name}"), t);
            }
        }
        if let Some(best) = best {
            for (name, t) in &best.weights {
                tensors.insert(format!("best/{name}"), t.clone());
            }
        }
        progress.dense_step = dense_step;
        progress.sparse_step = sparse_step;
        Ok(Checkpoint { progress, tensors })
    }

    pub(super) fn restore(&mut self, c: &Checkpoint, origin: &Path) -> Result<()> {
        let bad = |m: String| Error::model(origin, m);
        for (name, var) in &self.vars {
            let v = c.values("weights", name, origin)?;
            if v.len() != var.elem_count() {
                return Err(bad(format!(
                    "checkpoint tensor `weights/{name}` has the wrong size"
                )));
            }
            var.set(&Tensor::from_vec(v, var.shape(), var.device())?)?;
        }
        let moments = |name: &str| {
            Some((
                c.values("adam_m", name, origin).ok()?,
                c.values("adam_v", name, origin).ok()?,
            ))
        };
        self.dense
            .restore(c.progress.dense_step, moments)
            .map_err(bad)?;
        let table = |name: &str| -> Result<_> {
            Ok((
                c.values("weights", name, origin)?,
                c.values("adam_m", name, origin)?,
                c.values("adam_v", name, origin)?,
            ))
        };
        let (w, m, v) = table(EMBEDDING)?;
        let step = c.progress.sparse_step;
        self.embedding.restore(step, w, m, v).map_err(bad)?;
        if let Some((ngrams, _)) = &mut self.ngrams {
            let (w, m, v) = table(NGRAMS)?;
            // Updated at every step, as the dense parameters.
            let step = c.progress.dense_step;
            ngrams.restore(step, w, m, v).map_err(bad)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
