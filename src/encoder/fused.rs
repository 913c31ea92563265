//! The fused CPU path: per layer and direction one matrix product for the input side of every
//! step, then the whole recurrence as one candle custom op with its own backward.
//!
//! Stepping with candle ops costs a dozen small tensors per step, each allocated, dispatched
//! and (in backward) revisited by autograd; the op does a step as one product h W_hh^T plus
//! one pass over the gates, and backward as one product per step plus one for dW_hh.

use super::recurrence::{Problem, Saved};
use super::DirectionWeights;
use crate::config::Cell;
use candle_core::{
    bail, CpuStorage, CustomOp2, CustomOp3, Device, Layout, Result, Shape, Storage, Tensor,
};
use std::sync::Mutex;

/// One layer and direction: xs (time, batch, input) -> every step's h (time, batch, hidden).
/// Past its length a text's state is carried unchanged, so the last step holds the final states.
pub fn run(cell: Cell, w: &DirectionWeights, xs: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    let (time, batch, input) = xs.dims3()?;
    let (gates, hidden) = w.weight_hh.dims2()?;
    // Every bias but GRU's b_hn adds straight onto the gates, so it rides along with the input
    // side; b_hn sits inside r * (W_hn h + b_hn) and goes to the op.
    let (bias, b_hn) = match cell {
        Cell::Gru => {
            let b_hrz = w.bias_hh.narrow(0, 0, 2 * hidden)?;
            let no_n = Tensor::zeros(hidden, b_hrz.dtype(), b_hrz.device())?;
            let bias = w.bias_ih.add(&Tensor::cat(&[b_hrz, no_n], 0)?)?;
            (bias, Some(w.bias_hh.narrow(0, 2 * hidden, hidden)?))
        }
        _ => (w.bias_ih.add(&w.bias_hh)?, None),
    };
    let gi = xs
        .reshape((time * batch, input))?
        .matmul(&w.weight_ih.t()?)?
        .broadcast_add(&bias)?
        .reshape((time, batch, gates))?;
    let w_hh = w.weight_hh.contiguous()?;
    let op = RecurrentOp {
        problem: Problem {
            cell,
            lengths: lengths.to_vec(),
            time,
            hidden,
        },
        save: gi.track_op() || w_hh.track_op(),
        saved: Mutex::new(None),
    };
    match b_hn {
        Some(b_hn) => gi.apply_op3(&w_hh, &b_hn.contiguous()?, op),
        None => gi.apply_op2(&w_hh, op),
    }
}

/// The recurrence as a candle op: (gi, w_hh) for lstm and rnn, (gi, w_hh, b_hn) for gru.
struct RecurrentOp {
    problem: Problem,
    /// Whether autograd will call backward, and so whether to keep the activations.
    save: bool,
    /// What forward kept for backward; read (not taken) so that a second backward works too.
    saved: Mutex<Option<Saved>>,
}

impl RecurrentOp {
    fn cpu_forward(
        &self,
        gi: (&CpuStorage, &Layout),
        w_hh: (&CpuStorage, &Layout),
        b_hn: &[f32],
    ) -> Result<(CpuStorage, Shape)> {
        let p = &self.problem;
        let gw = p.cell.gates() * p.hidden;
        let batch = p.lengths.len();
        if gi.1.dims() != [p.time, batch, gw]
            || w_hh.1.dims() != [gw, p.hidden]
            || b_hn.len() != if p.cell == Cell::Gru { p.hidden } else { 0 }
        {
            bail!("recurrent kernel: gi {:?}, w_hh {:?}, b_hn {} do not fit {} steps of {batch} texts, hidden {}", gi.1.dims(), w_hh.1.dims(), b_hn.len(), p.time, p.hidden);
        }
        if p.lengths.iter().any(|&l| l > p.time) {
            bail!("recurrent kernel: a length exceeds the {} steps", p.time);
        }
        let (out, saved) = p.forward(slice(gi.0, gi.1)?, slice(w_hh.0, w_hh.1)?, b_hn, self.save);
        if self.save {
            *self.lock()? = Some(saved);
        }
        Ok((CpuStorage::F32(out), Shape::from((p.time, batch, p.hidden))))
    }

    /// Gradients of gi, w_hh and b_hn (a zero-length tensor for lstm and rnn).
    fn backward(
        &self,
        gi: &Tensor,
        w_hh: &Tensor,
        b_hn: &[f32],
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let p = &self.problem;
        let grads = with_slice(w_hh, |w| {
            with_slice(res, |out| {
                with_slice(grad, |d_out| {
                    let mut saved = self.lock()?;
                    if saved.is_none() {
                        // Forward ran without autograd in sight; run it again, keeping this time.
                        let again = with_slice(gi, |gi| Ok(p.forward(gi, w, b_hn, true).1))?;
                        *saved = Some(again);
                    }
                    let saved = saved.as_ref().expect("filled above");
                    Ok(p.backward(w, out, saved, d_out))
                })
            })
        })?;
        let dev = Device::Cpu;
        Ok((
            Tensor::from_vec(grads.gi, gi.shape(), &dev)?,
            Tensor::from_vec(grads.w_hh, w_hh.shape(), &dev)?,
            Tensor::from_vec(grads.b_hn, grads_b_hn_len(p), &dev)?,
        ))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Option<Saved>>> {
        self.saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("recurrent kernel: poisoned lock".into()))
    }
}

fn grads_b_hn_len(p: &Problem) -> usize {
    if p.cell == Cell::Gru {
        p.hidden
    } else {
        0
    }
}

impl CustomOp2 for RecurrentOp {
    fn name(&self) -> &'static str {
        "recurrent"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.cpu_forward((s1, l1), (s2, l2), &[])
    }

    fn bwd(
        &self,
        gi: &Tensor,
        w_hh: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (d_gi, d_w, _) = self.backward(gi, w_hh, &[], res, grad)?;
        Ok((Some(d_gi), Some(d_w)))
    }
}

impl CustomOp3 for RecurrentOp {
    fn name(&self) -> &'static str {
        "recurrent"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.cpu_forward((s1, l1), (s2, l2), slice(s3, l3)?)
    }

    fn bwd(
        &self,
        gi: &Tensor,
        w_hh: &Tensor,
        b_hn: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (d_gi, d_w, d_b) = with_slice(b_hn, |b| self.backward(gi, w_hh, b, res, grad))?;
        Ok((Some(d_gi), Some(d_w), Some(d_b)))
    }
}

/// The f32 elements of a contiguous CPU tensor.
fn slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&storage.as_slice::<f32>()?[start..end]),
        None => bail!("recurrent kernel: expected a contiguous tensor"),
    }
}

/// Runs `f` on the f32 elements of a CPU tensor.
fn with_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(slice(cpu, layout)?),
        _ => bail!("recurrent kernel: expected a CPU tensor"),
    }
}
