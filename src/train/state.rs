//! What training changes from step to step: the dense parameters as candle Vars with their
//! AdamW, the embedding table with its row-sparse AdamW, and the best epoch kept so far; with
//! their checkpoints.

use super::checkpoint::{Checkpoint, Progress};
use super::guard::non_finite_step;
use crate::config::ModelConfig;
use crate::dropout::Dropout;
use crate::embedding::Embedding;
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::model::{Batch, Model, Weights};
use crate::optim::{clip_factor, compact_ids, global_norm, DenseAdamW, SparseRows};
use candle_core::{Device, Tensor, Var};
use candle_nn::ParamsAdamW;
use std::path::Path;

pub(super) use crate::config::EMBEDDING_TENSOR as EMBEDDING;

pub(super) fn with_embedding(weights: &Weights, table: Tensor) -> Weights {
    let mut all = weights.clone();
    all.insert(EMBEDDING.to_string(), table);
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
    frozen_embedding: bool,
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
            frozen_embedding,
        })
    }

    /// The learning rates of the steps to come: `dense` for the network, `embedding` for the
    /// table.
    pub(super) fn set_lr(&mut self, dense: f64, embedding: f64) {
        self.dense.set_lr(dense);
        self.embedding.set_lr(embedding);
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
        let (rows, local) = compact_ids(seqs);
        let batch = Batch::new(&local, device)?;
        let targets = Tensor::new(y, device)?;
        let batch_rows = Var::from_tensor(&self.embedding.gather(&rows, device)?)?;
        let xs = Embedding::new(batch_rows.as_tensor().clone()).forward(&batch.ids)?;
        let out = model.forward_embedded(xs, &batch.steps, Some(dropout))?;
        let loss = candle_nn::loss::cross_entropy(&out.logits, &targets)?;
        let loss_value = f64::from(loss.to_scalar::<f32>()?);
        let grads = loss.backward()?;
        let row_grad = grads
            .get(batch_rows.as_tensor())
            .ok_or_else(|| Error::Config("the embedding received no gradient".into()))?;
        let norm = global_norm(
            self.vars
                .iter()
                .filter_map(|(_, v)| grads.get(v.as_tensor()))
                .chain(std::iter::once(row_grad)),
        )?;
        if let Some(what) = non_finite_step(loss_value, norm) {
            return Ok(Stepped::NonFinite(what));
        }
        let factor = clip_factor(norm, clip_norm);
        self.dense.step(&grads, factor)?;
        if !self.frozen_embedding {
            self.embedding
                .update(&rows, &row_grad.affine(factor, 0.0)?)?;
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
        Ok(with_embedding(&detached, self.embedding.to_tensor(device)?))
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
        for (name, m, v) in moments.into_iter().chain([(EMBEDDING, m, v)]) {
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
        self.embedding
            .restore(
                c.progress.sparse_step,
                c.values("weights", EMBEDDING, origin)?,
                c.values("adam_m", EMBEDDING, origin)?,
                c.values("adam_v", EMBEDDING, origin)?,
            )
            .map_err(bad)
    }
}
