//! What training changes from step to step: the dense parameters as candle Vars with their
//! AdamW, the embedding table (and the bigram table, with bigrams) with its row-sparse AdamW,
//! and the best epoch kept so far; with their checkpoints.

use super::adversarial;
use super::average::Averaged;
use super::checkpoint::{Checkpoint, Progress, Resumable};
use super::guard::non_finite_step;
use super::step_loss::StepLoss;
use crate::dropout::Dropout;
use crate::embedding::Embedding;
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::model::{padded, Batch, Model, Weights};
use crate::optim::{
    clip_factor, compact_ids, loss_and_norm, DenseAdamW, NewWeights, RowValues, SparseRows,
};
use candle_core::{Device, Tensor, Var};
use candle_nn::ParamsAdamW;
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) use crate::config::EMBEDDING_TENSOR as EMBEDDING;
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

/// The rows of the tables one step reads, each as a (rows, dim) tensor of the distinct ids it
/// uses (sorted) with the texts' ids rewritten to index into it.
pub(crate) struct StepRows<'a> {
    pub words: &'a Tensor,
    pub word_ids: &'a [Vec<u32>],
    /// The bigram table's rows and every position's bucket, with bigrams.
    pub ngrams: Option<(&'a Tensor, &'a [Vec<u32>])>,
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
pub(crate) struct TrainState {
    vars: Vec<(String, Var)>,
    pub(crate) live: Weights,
    dense: DenseAdamW,
    embedding: SparseRows,
    /// The bigram table and its number of buckets, with bigrams. It learns with the
    /// embedding's learning rate, and also when the word vectors are frozen: it starts at
    /// zero, and every step updates it (so its step count is the dense optimizer's).
    ngrams: Option<(SparseRows, usize)>,
    frozen_embedding: bool,
    /// The embedding is frozen for now (gradual unfreezing): its gradient neither moves it nor
    /// counts towards the clipped norm.
    resting_embedding: bool,
    /// The moving average of the weights, when the run scores and keeps it. Its tables are
    /// the embedding (0) and, with bigrams, the bigram table (1).
    average: Option<Averaged>,
}

/// The tables trained row by row, in the average's order: the embedding, then the bigram
/// table where there is one.
fn tables<'a>(
    embedding: &'a SparseRows,
    ngrams: &'a Option<(SparseRows, usize)>,
) -> impl Iterator<Item = &'a SparseRows> {
    std::iter::once(embedding).chain(ngrams.as_ref().map(|(table, _)| table))
}

impl TrainState {
    /// `ema`: the decay of the moving average of the weights (0: none; see [`Averaged`]).
    pub(crate) fn new(
        embedding_dim: usize,
        mut init: Weights,
        frozen_embedding: bool,
        params: ParamsAdamW,
        ema: f64,
    ) -> Result<Self> {
        let table = (init.remove(EMBEDDING))
            .ok_or_else(|| Error::Config("no embedding to train".into()))?;
        let device = table.device().clone();
        let table = table.flatten_all()?.to_vec1::<f32>()?;
        let embedding = SparseRows::new(table, embedding_dim, params.clone());
        let ngrams = match init.remove(NGRAMS) {
            Some(t) => {
                let buckets = t.dim(0)?;
                let table = SparseRows::new(t.flatten_all()?.to_vec1()?, t.dim(1)?, params.clone());
                Some((table, buckets))
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
        let dense = DenseAdamW::new(&vars, params)?;
        let average = if ema > 0.0 {
            let start: Vec<_> = (tables(&embedding, &ngrams))
                .map(|table| Ok((table.state()?.1, table.dim())))
                .collect::<Result<_>>()?;
            let start = (start.iter())
                .map(|([weight, ..], dim)| (&weight[..], *dim))
                .collect();
            Some(Averaged::new(ema, &live, start)?)
        } else {
            None
        };
        // Placed after the average took their start: on a GPU they stay there from now on.
        let embedding = embedding.placed(&device)?;
        let ngrams = match ngrams {
            Some((table, buckets)) => Some((table.placed(&device)?, buckets)),
            None => None,
        };
        Ok(Self {
            vars,
            live,
            dense,
            embedding,
            ngrams,
            frozen_embedding,
            resting_embedding: false,
            average,
        })
    }

    /// The learning rates of the steps to come: `dense` for the network, `embedding` for the
    /// tables.
    pub(crate) fn set_lr(&mut self, dense: f64, embedding: f64) {
        self.dense.set_lr(dense);
        self.embedding.set_lr(embedding);
        if let Some((table, _)) = &mut self.ngrams {
            table.set_lr(embedding);
        }
    }

    /// What trains in the steps to come: each dense parameter at the learning rate times
    /// `scale(name)` (0: frozen), and the embedding table unless `embedding` is false.
    pub(crate) fn set_trained(&mut self, scale: impl Fn(&str) -> f64, embedding: bool) {
        self.dense.set_scales(scale);
        self.resting_embedding = !embedding;
    }

    /// One optimizer step on a batch of a classifier, adversarial with `adversarial` > 0 (see
    /// `adversarial.rs`). A non-finite loss or gradient norm changes nothing and comes back as
    /// [`Stepped::NonFinite`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
        &mut self,
        model: &Model,
        seqs: &[Vec<u32>],
        y: &[u32],
        dropout: &mut Dropout,
        adversarial: f64,
        clip_norm: f64,
        device: &Device,
    ) -> Result<Stepped> {
        let stepped = self.step_rows(seqs, clip_norm, device, |rows| {
            let batch = Batch::new(rows.word_ids, device)?;
            let targets = Tensor::new(y, device)?;
            let mut xs = Embedding::new(rows.words.clone())
                .forward_with_host_ids(&batch.ids, batch.host_ids())?;
            if let Some((table, ids)) = rows.ngrams {
                let time = batch.ids.dim(0)?;
                // Padding reads local row 0, one of the batch's own: no other row is touched.
                let host = padded(ids, time);
                let at = Tensor::from_slice(&host, (time, ids.len()), device)?;
                xs = (xs + Embedding::new(table.clone()).forward_with_host_ids(&at, &host)?)?;
            }
            let mut loss_at = |xs: Tensor| -> Result<(Tensor, Tensor)> {
                let out = model.forward_embedded(xs, &batch.steps, Some(&mut *dropout))?;
                let loss = candle_nn::loss::cross_entropy(&out.logits, &targets)?;
                Ok((loss, out.logits))
            };
            let tokens = batch.token_count();
            if adversarial == 0.0 {
                let (loss, logits) = loss_at(xs)?;
                return Ok((loss.into(), (logits, tokens)));
            }
            let (objective, logits) = adversarial::objective(&xs, adversarial, loss_at)?;
            Ok((objective, (logits, tokens)))
        })?;
        Ok(match stepped {
            Ok((loss, (logits, tokens))) => Stepped::Done {
                loss,
                logits: logits.to_vec2::<f32>()?,
                tokens,
            },
            Err(what) => Stepped::NonFinite(what),
        })
    }

    /// One optimizer step on any loss of the table rows that `ids` use (see [`StepRows`]; the
    /// bigram rows come from `ids` too, with bigrams): `loss` gives the loss and anything else
    /// to hand back. Gradients are clipped to `clip_norm` together. Gives the loss's value, or
    /// what was not finite (nothing moved).
    pub(crate) fn step_rows<T>(
        &mut self,
        ids: &[Vec<u32>],
        clip_norm: f64,
        device: &Device,
        loss: impl FnOnce(StepRows) -> Result<(StepLoss, T)>,
    ) -> Result<std::result::Result<(f64, T), String>> {
        let (rows, local) = compact_ids(ids);
        let batch_rows = Var::from_tensor(&self.embedding.gather(&rows, device)?)?;
        let ngram_rows = match &self.ngrams {
            Some((table, buckets)) => {
                let buckets: Vec<Vec<u32>> = (ids.iter())
                    .map(|s| crate::ngram::text_buckets(s, *buckets))
                    .collect();
                let (rows, local) = compact_ids(&buckets);
                let var = Var::from_tensor(&table.gather(&rows, device)?)?;
                Some((rows, local, var))
            }
            None => None,
        };
        let (loss, out) = loss(StepRows {
            words: batch_rows.as_tensor(),
            word_ids: &local,
            ngrams: (ngram_rows.as_ref()).map(|(_, local, var)| (var.as_tensor(), &local[..])),
        })?;
        let grads = match loss.differentiate {
            None => loss.value.backward()?,
            Some((other, earlier)) => {
                let mut grads = other.backward()?;
                grads.extend(earlier)?;
                grads
            }
        };
        let row_grad = |var: &Var, what: &str| {
            (grads.get(var.as_tensor()))
                .ok_or_else(|| Error::Config(format!("the {what} received no gradient")))
        };
        let word_grad = row_grad(&batch_rows, "embedding")?;
        let ngram_grad = match &ngram_rows {
            Some((rows, _, var)) => Some((rows, row_grad(var, "bigram table")?)),
            None => None,
        };
        let counted = (self.vars.iter())
            .filter(|(name, _)| self.dense.trains(name))
            .filter_map(|(_, v)| grads.get(v.as_tensor()));
        let word_counted = (!self.resting_embedding).then_some(word_grad);
        let ngram_counted = ngram_grad.map(|(_, g)| g);
        let gradients = counted.chain(word_counted).chain(ngram_counted);
        let (loss_value, norm) = loss_and_norm(&loss.value, gradients)?;
        if let Some(what) = non_finite_step(loss_value, norm) {
            return Ok(Err(what));
        }
        let factor = clip_factor(norm, clip_norm);
        let ngram_rows = ngram_rows.as_ref().map(|(rows, _, _)| &rows[..]);
        self.catch_up_average(&rows, ngram_rows)?;
        match &mut self.average {
            Some(average) => {
                average.next_update();
                let mut mix = |name: &str, w: NewWeights| {
                    average.mix_dense(name, w).map_err(candle_core::Error::wrap)
                };
                self.dense.step(&grads, factor, Some(&mut mix))?;
            }
            None => self.dense.step(&grads, factor, None)?,
        }
        if !self.frozen_embedding && !self.resting_embedding {
            (self.embedding).update(&rows, word_grad, factor as f32)?;
        }
        if let (Some((table, _)), Some((rows, grad))) = (&mut self.ngrams, ngram_grad) {
            table.update(rows, grad, factor as f32)?;
        }
        self.mix_average_rows(&rows, ngram_rows)?;
        Ok(Ok((loss_value, out)))
    }

    /// Brings the average of the table rows a step is about to move up to date.
    fn catch_up_average(&mut self, rows: &[u32], ngram_rows: Option<&[u32]>) -> Result<()> {
        self.on_moved_rows(rows, ngram_rows, Averaged::catch_up)
    }

    /// Mixes the table rows a step moved into their averages.
    fn mix_average_rows(&mut self, rows: &[u32], ngram_rows: Option<&[u32]>) -> Result<()> {
        self.on_moved_rows(rows, ngram_rows, Averaged::mix_rows)
    }

    /// Calls `f(average, table, rows, values)` for each row-trained table, with the rows a
    /// step moves: `rows` of the embedding, `ngram_rows` of the bigram table.
    fn on_moved_rows(
        &mut self,
        rows: &[u32],
        ngram_rows: Option<&[u32]>,
        f: fn(&mut Averaged, usize, &[u32], &RowValues),
    ) -> Result<()> {
        let Some(average) = &mut self.average else {
            return Ok(());
        };
        let moved = [Some(rows), ngram_rows];
        for (i, (table, moved)) in tables(&self.embedding, &self.ngrams).zip(moved).enumerate() {
            let moved = moved.unwrap_or_default();
            f(average, i, moved, &table.values(Some(moved))?);
        }
        Ok(())
    }

    /// The weights each epoch is scored and kept by: their moving average when the run keeps
    /// one, else the weights themselves.
    pub(crate) fn scored_weights(&mut self, device: &Device) -> Result<Weights> {
        let Some(average) = &mut self.average else {
            return self.weights(device);
        };
        let whole: Vec<RowValues> = (tables(&self.embedding, &self.ngrams))
            .map(|table| table.values(None))
            .collect::<candle_core::Result<_>>()?;
        average.sync(&whole);
        let mut out = Weights::new();
        for name in average.dense_names() {
            let shape = self.live[name].dims();
            out.insert(name.to_string(), average.dense_tensor(name, shape, device)?);
        }
        let ngrams = (self.ngrams.is_some())
            .then(|| average.table(1, device))
            .transpose()?;
        Ok(with_tables(&out, average.table(0, device)?, ngrams))
    }

    /// The current weights without the autograd graph (views of the live storage).
    pub(crate) fn weights(&self, device: &Device) -> Result<Weights> {
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
        &mut self,
        mut progress: Progress,
        best: Option<&Best>,
        device: &Device,
    ) -> Result<Checkpoint> {
        let (mut tensors, dense_step, sparse_step) = self.state_tensors(device)?;
        if self.average.is_some() {
            for (name, t) in self.scored_weights(device)? {
                tensors.insert(format!("average/{name}"), t);
            }
            progress.average_updates = self.average.as_ref().map_or(0, Averaged::updates);
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

    /// The weights and the optimizer's moments as checkpoint tensors (`weights/..`,
    /// `adam_m/..`, `adam_v/..`), with the dense and the sparse optimizer's step counts.
    pub(crate) fn state_tensors(
        &self,
        device: &Device,
    ) -> Result<(BTreeMap<String, Tensor>, i32, i32)> {
        let mut tensors = BTreeMap::new();
        for (name, t) in self.weights(device)? {
            tensors.insert(format!("weights/{name}"), t.copy()?);
        }
        let (dense_step, moments) = self.dense.state()?;
        let (sparse_step, [_, m, v]) = self.embedding.state()?;
        let ngrams = match &self.ngrams {
            Some((table, _)) => {
                let (_, [_, m, v]) = table.state()?;
                Some((NGRAMS, m, v))
            }
            None => None,
        };
        let words = (EMBEDDING, m, v);
        for (name, m, v) in moments.into_iter().chain([words]).chain(ngrams) {
            for (kind, values) in [("adam_m", m), ("adam_v", v)] {
                let t = Tensor::from_slice(&values, values.len(), device)?;
                tensors.insert(format!("{kind}/{name}"), t);
            }
        }
        Ok((tensors, dense_step, sparse_step))
    }

    pub(super) fn restore(&mut self, c: &Checkpoint, origin: &Path) -> Result<()> {
        let steps = (c.progress.dense_step, c.progress.sparse_step);
        self.restore_state(c, steps, origin)?;
        let Some(average) = &mut self.average else {
            return Ok(());
        };
        let mut dense = BTreeMap::new();
        for name in self.live.keys() {
            dense.insert(name.clone(), c.values("average", name, origin)?);
        }
        let mut tables = vec![c.values("average", EMBEDDING, origin)?];
        if self.ngrams.is_some() {
            tables.push(c.values("average", NGRAMS, origin)?);
        }
        (average.restore(c.progress.average_updates, dense, tables))
            .map_err(|m| Error::model(origin, m))
    }

    /// Continues from what [`state_tensors`](Self::state_tensors) put in `c`, with the step
    /// counts (dense, sparse) it gave.
    pub(crate) fn restore_state<P: Resumable>(
        &mut self,
        c: &Checkpoint<P>,
        (dense_step, sparse_step): (i32, i32),
        origin: &Path,
    ) -> Result<()> {
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
        self.dense.restore(dense_step, moments).map_err(bad)?;
        let table = |name: &str| -> Result<_> {
            Ok((
                c.values("weights", name, origin)?,
                c.values("adam_m", name, origin)?,
                c.values("adam_v", name, origin)?,
            ))
        };
        let (w, m, v) = table(EMBEDDING)?;
        self.embedding.restore(sparse_step, w, m, v).map_err(bad)?;
        if let Some((ngrams, _)) = &mut self.ngrams {
            let (w, m, v) = table(NGRAMS)?;
            // Updated at every step, as the dense parameters.
            ngrams.restore(dense_step, w, m, v).map_err(bad)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
