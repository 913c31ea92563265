//! The fused path: one layer and direction as one candle custom op with its own backward
//! ([`run`]), on the CPU or (its CUDA side in `cuda`) a GPU, or for prediction on the CPU as a
//! plain call on weights laid out once ([`predict`]).
//!
//! Stepping with candle ops costs a dozen small tensors per step, each allocated, dispatched
//! and in backward revisited by autograd, which also zero-fills and adds a gradient buffer for
//! every intermediate. The op computes the input side of all steps as one product, each step as
//! one product h W_hh^T plus one pass over the gates, and backward as one product per step plus
//! one each for the weight and input gradients.

use super::direction::DirectionWeights;
use super::layer::{Layer, Prepared, Source};
use super::parts::{PartRun, Split, States};
use super::projection::{Lookup, WordProjections, Words};
use super::recurrence::Recurrence;
use crate::config::Cell;
use candle_core::{bail, CpuStorage, CustomOp3, Device, Layout, Result, Shape, Storage, Tensor};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// xs (time, batch, input) -> every step's h (time, batch, hidden), or with [`States::Final`]
/// each text's final h (batch, hidden). Past its length a text's state is carried unchanged, so
/// the last step holds every text's final state. With `bf16`, a call that keeps nothing for
/// backward multiplies in bfloat16 where the CPU can.
pub fn run(
    cell: Cell,
    w: &DirectionWeights,
    xs: &Tensor,
    lengths: &[usize],
    bf16: bool,
    states: States,
) -> Result<Tensor> {
    let (time, _, input) = xs.dims3()?;
    let (packed, bias) = pack(w)?;
    let xs = xs.contiguous()?;
    let op = RecurrentOp {
        split: split(cell, w, time, input, lengths, bf16)?,
        save: xs.track_op() || packed.track_op() || bias.track_op(),
        states,
        saved: Mutex::new(None),
        #[cfg(feature = "cuda")]
        kept: Default::default(),
    };
    xs.apply_op3(&packed, &bias, op)
}

/// What [`predict`] reads.
pub enum PredictInput<'a> {
    /// xs (time, batch, input).
    Vectors(&'a Tensor),
    /// The first layer's words: ids (`time`, batch) of `embedding`, in direction `dir`'s
    /// order, whose input side `table` keeps; and with bigrams their buckets likewise (ids,
    /// the table keeping their rows, the bucket vectors).
    Words {
        ids: &'a [u32],
        time: usize,
        table: &'a WordProjections,
        dir: usize,
        embedding: &'a Tensor,
        ngrams: Option<(&'a [u32], &'a WordProjections, &'a Tensor)>,
    },
}

/// A layer and direction's weights laid out for the kernel once, in f32 and in bfloat16 as
/// asked for, for a model whose weights no longer change.
#[derive(Default)]
pub struct PreparedCache {
    forms: [OnceLock<Prepared>; 2],
}

impl PreparedCache {
    fn prepared(&self, layer: &Layer, w: &DirectionWeights, words: bool) -> Result<&Prepared> {
        let slot = &self.forms[usize::from(layer.bf16)];
        if let Some(p) = slot.get() {
            return Ok(p);
        }
        // Two threads may both get here; they make the same thing and one is dropped.
        let (packed, bias) = pack(w)?;
        let made = with_slice(&packed, |wv| {
            with_slice(&bias, |b| Ok(layer.prepare(wv, b, false, words)))
        })?;
        let _ = slot.set(made);
        Ok(slot.get().expect("set above"))
    }
}

/// As [`run`] for prediction (nothing kept for backward, no gradients), with the weights laid
/// out once in `prepared`; the first layer may read words.
pub fn predict(
    cell: Cell,
    w: &DirectionWeights,
    x: PredictInput,
    prepared: &PreparedCache,
    lengths: &[usize],
    bf16: bool,
    states: States,
) -> Result<Tensor> {
    let (time, input) = match &x {
        PredictInput::Vectors(xs) => (xs.dim(0)?, xs.dim(2)?),
        PredictInput::Words {
            time, embedding, ..
        } => (*time, embedding.dim(1)?),
    };
    let split = split(cell, w, time, input, lengths, bf16)?;
    let words = matches!(x, PredictInput::Words { .. });
    let weights = prepared.prepared(split.whole(), w, words)?;
    let out = match x {
        PredictInput::Vectors(xs) => with_slice(xs, |xv| {
            Ok(split.forward(Source::Values(xv), weights, false, states).0)
        })?,
        PredictInput::Words {
            ids,
            table,
            dir,
            embedding,
            ngrams,
            ..
        } => with_slice(embedding, |embedding| {
            let words = Lookup {
                ids,
                table,
                embedding,
            };
            let run = |ngrams: Option<Lookup>| {
                let words = Words {
                    words,
                    ngrams,
                    dir,
                    dim: input,
                };
                Ok(split
                    .forward(Source::Words(words), weights, false, states)
                    .0)
            };
            match ngrams {
                None => run(None),
                Some((ids, table, vectors)) => with_slice(vectors, |embedding| {
                    run(Some(Lookup {
                        ids,
                        table,
                        embedding,
                    }))
                }),
            }
        })?,
    };
    let hidden = split.whole().recurrence.hidden;
    match states {
        States::EveryStep => Tensor::from_vec(out, (time, lengths.len(), hidden), &Device::Cpu),
        States::Final => Tensor::from_vec(out, (lengths.len(), hidden), &Device::Cpu),
    }
}

/// The weights side by side, [W_ih | W_hh] and [b_ih, b_hh], so that the op has three inputs.
/// The copies are the size of the weights, small next to the activations.
fn pack(w: &DirectionWeights) -> Result<(Tensor, Tensor)> {
    let packed = Tensor::cat(&[&w.weight_ih, &w.weight_hh], 1)?;
    Ok((packed, Tensor::cat(&[&w.bias_ih, &w.bias_hh], 0)?))
}

/// The layer over the batch's texts, spread over the threads of rayon's current pool.
fn split(
    cell: Cell,
    w: &DirectionWeights,
    time: usize,
    input: usize,
    lengths: &[usize],
    bf16: bool,
) -> Result<Split> {
    let layer = Layer {
        recurrence: Recurrence {
            cell,
            lengths: lengths.to_vec(),
            time,
            hidden: w.weight_hh.dim(1)?,
        },
        input,
        bf16,
    };
    Ok(Split::new(layer, rayon::current_num_threads()))
}

/// The layer as a candle op on (xs, [W_ih | W_hh], [b_ih, b_hh]).
struct RecurrentOp {
    split: Split,
    /// Whether autograd may call backward, and so whether to keep the activations.
    save: bool,
    states: States,
    /// What forward kept for backward, per part of the split; read (not taken) so that a second
    /// backward works too.
    saved: Mutex<Option<Vec<PartRun>>>,
    /// The same on a GPU, kept there.
    #[cfg(feature = "cuda")]
    kept: super::cuda::Kept,
}

impl RecurrentOp {
    fn lock(&self) -> Result<MutexGuard<'_, Option<Vec<PartRun>>>> {
        self.saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("recurrent kernel: poisoned lock".into()))
    }

    fn check(&self, x: &[usize], w: &[usize], bias: &[usize]) -> Result<()> {
        let l = self.split.whole();
        let p = &l.recurrence;
        let gw = p.gate_width();
        if x != [p.time, p.batch(), l.input]
            || w != [gw, l.input + p.hidden]
            || bias != [2 * gw]
            || p.lengths.iter().any(|&len| len > p.time)
        {
            bail!(
                "recurrent kernel: x {x:?}, w {w:?}, bias {bias:?} do not fit {} steps of \
                 lengths {:?}, input {}, hidden {}",
                p.time,
                p.lengths,
                l.input,
                p.hidden
            );
        }
        Ok(())
    }
}

impl CustomOp3 for RecurrentOp {
    fn name(&self) -> &'static str {
        "recurrent"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.check(x_layout.dims(), w_layout.dims(), bias_layout.dims())?;
        let x = slice(x, x_layout)?;
        let (w, bias) = (slice(w, w_layout)?, slice(bias, bias_layout)?);
        let weights = self.split.whole().prepare(w, bias, self.save, false);
        let x = Source::Values(x);
        let (out, saved) = self.split.forward(x, &weights, self.save, self.states);
        if self.save {
            *self.lock()? = Some(saved);
        }
        let p = &self.split.whole().recurrence;
        let shape = match self.states {
            States::EveryStep => Shape::from((p.time, p.batch(), p.hidden)),
            States::Final => Shape::from((p.batch(), p.hidden)),
        };
        Ok((CpuStorage::F32(out), shape))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        x: &candle_core::CudaStorage,
        x_layout: &Layout,
        w: &candle_core::CudaStorage,
        w_layout: &Layout,
        bias: &candle_core::CudaStorage,
        bias_layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        self.check(x_layout.dims(), w_layout.dims(), bias_layout.dims())?;
        let (x, w, bias) = ((x, x_layout), (w, w_layout), (bias, bias_layout));
        let how = (self.states, self.save);
        self.kept.forward(self.split.whole(), how, x, w, bias)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        #[cfg(feature = "cuda")]
        if x.device().is_cuda() {
            let tensors = [x, w, bias, res, grad];
            let (layer, want_x) = (self.split.whole(), x.track_op());
            return self.kept.backward(layer, self.states, tensors, want_x);
        }
        let grads = with_slice(x, |xv| {
            with_slice(w, |wv| {
                with_slice(res, |out| {
                    with_slice(grad, |d_out| {
                        let mut saved = self.lock()?;
                        if saved.is_none() {
                            // Forward ran with nothing tracked; run it again, keeping this time.
                            let again = with_slice(bias, |b| {
                                let weights = self.split.whole().prepare(wv, b, true, false);
                                let (xv, states) = (Source::Values(xv), self.states);
                                Ok(self.split.forward(xv, &weights, true, states).1)
                            })?;
                            *saved = Some(again);
                        }
                        let saved = saved.as_ref().expect("filled above");
                        let (states, want_x) = (self.states, x.track_op());
                        Ok(self
                            .split
                            .backward(xv, wv, out, saved, d_out, states, want_x))
                    })
                })
            })
        })?;
        let dev = Device::Cpu;
        let d_x = grads
            .x
            .map(|d| Tensor::from_vec(d, x.shape(), &dev))
            .transpose()?;
        let d_w = Tensor::from_vec(grads.w, w.shape(), &dev)?;
        let d_bias = Tensor::from_vec(grads.bias, bias.shape(), &dev)?;
        Ok((d_x, Some(d_w), Some(d_bias)))
    }
}

/// The f32 elements of a contiguous CPU tensor.
pub(super) fn slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&storage.as_slice::<f32>()?[start..end]),
        None => bail!("fused kernel: expected a contiguous tensor"),
    }
}

/// Runs `f` on the f32 elements of a CPU tensor, without copying them.
pub(crate) fn with_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(slice(cpu, layout)?),
        _ => bail!("fused kernel: expected a CPU tensor"),
    }
}
