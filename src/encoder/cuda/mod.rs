//! The recurrent layer on a CUDA GPU: what `fused`'s custom op runs when its tensors are there,
//! with the same values and gradients as its CPU kernel (to float rounding).
//!
//! Forward (`forward`): one product for the input side of every step, then the recurrence over
//! the steps. Backward (`backward`): the recurrence back through the steps for the gates'
//! gradients, then the weight, bias and input gradients as single products over all steps.
//!
//! The recurrence runs in one of two ways: per step, one product h_{t-1} W_hh^T (or, back,
//! d_gates W_hh) and one fused kernel for the biases, gates, state update and length masking
//! (`recurrent.cu`); or, where the environment asks for it and a block's share of W_hh fits a
//! GPU's shared memory, one launch of a persistent kernel for every step (`persistent`,
//! `persistent.cu`). The kernels are compiled by NVRTC
//! (`kernels`), the products are cuBLAS's (`gemm`); everything stays on the device, on candle's
//! stream.

mod backward;
mod forward;
mod gemm;
pub(crate) mod kernels;
mod persistent;

use super::layer::Layer;
use super::parts::States;
use candle_core::cuda::cudarc::driver::{CudaSlice, CudaView};
use candle_core::op::BackpropOp;
use candle_core::{bail, CudaStorage, Layout, Result, Shape, Storage, StorageRef, Tensor};
use std::sync::{Mutex, MutexGuard};

/// What the op keeps on the device between its forward and its backward.
#[derive(Default)]
pub struct Kept(Mutex<Option<Saved>>);

struct Saved {
    run: forward::Saved,
    /// Every step's h when the op handed on less ([`States::Final`], or a forward run again
    /// for backward); otherwise backward reads them from the op's output.
    out: Option<CudaSlice<f32>>,
}

/// The three gradients of the op's inputs (x, w, bias), as candle's `bwd` returns them.
type OpGrads = (Option<Tensor>, Option<Tensor>, Option<Tensor>);

impl Kept {
    fn lock(&self) -> Result<MutexGuard<'_, Option<Saved>>> {
        (self.0.lock())
            .map_err(|_| candle_core::Error::Msg("recurrent kernel: poisoned lock".into()))
    }

    /// The op's forward: every step's h, or each text's final h, as `states` asks; with
    /// `save`, what backward needs stays on the device.
    pub fn forward(
        &self,
        layer: &Layer,
        (states, save): (States, bool),
        x: (&CudaStorage, &Layout),
        w: (&CudaStorage, &Layout),
        bias: (&CudaStorage, &Layout),
    ) -> Result<(CudaStorage, Shape)> {
        let p = &layer.recurrence;
        if p.batch() == 0 {
            bail!("recurrent kernel: the CUDA path needs at least one text");
        }
        let dev = &x.0.device;
        let (x, w, bias) = (view(x)?, view(w)?, view(bias)?);
        let run = forward::run(dev, layer, (&x, &w, &bias), save)?;
        let (result, shape, out) = match states {
            States::EveryStep => (run.out, Shape::from((p.time, p.batch(), p.hidden)), None),
            States::Final => {
                let mut last = forward::buffer(dev, p.batch() * p.hidden)?;
                // The last step holds every text's final state.
                dev.memcpy_dtod(
                    &run.out.slice((p.time - 1) * p.batch() * p.hidden..),
                    &mut last,
                )?;
                (last, Shape::from((p.batch(), p.hidden)), Some(run.out))
            }
        };
        if save {
            *self.lock()? = Some(Saved {
                run: run.saved,
                out,
            });
        }
        Ok((CudaStorage::wrap_cuda_slice(result, dev.clone()), shape))
    }

    /// The op's backward on the device, from its inputs (x, w, bias), `res`, what forward
    /// returned, and `grad`, the gradient of `res`. The gradient of x only with `want_x`.
    pub fn backward(
        &self,
        layer: &Layer,
        states: States,
        [x, w, bias, res, grad]: [&Tensor; 5],
        want_x: bool,
    ) -> Result<OpGrads> {
        let dev = x.device().as_cuda_device()?.clone();
        let (x, w, bias) = (x.contiguous()?, w.contiguous()?, bias.contiguous()?);
        let (res, grad) = (res.contiguous()?, grad.contiguous()?);
        let guards = [&x, &w, &bias, &res, &grad].map(|t| t.storage_and_layout());
        let [x_v, w_v, bias_v, res_v, grad_v] = guards.each_ref().map(tensor_view);
        let inputs = (&x_v?, &w_v?, &bias_v?);
        let mut kept = self.lock()?;
        if kept.is_none() {
            // Forward ran with nothing tracked; run it again, keeping this time.
            let run = forward::run(&dev, layer, inputs, true)?;
            *kept = Some(Saved {
                run: run.saved,
                out: Some(run.out),
            });
        }
        let saved = kept.as_ref().expect("filled above");
        let out = match &saved.out {
            Some(out) => out.slice(..),
            None => res_v?,
        };
        let (d_out, run) = (grad_v?, &saved.run);
        let grads = backward::run(&dev, layer, inputs, &out, run, &d_out, states, want_x)?;
        let tensor = |slice, shape: &Shape| {
            let storage = Storage::Cuda(CudaStorage::wrap_cuda_slice(slice, dev.clone()));
            Tensor::from_storage(storage, shape.clone(), BackpropOp::none(), false)
        };
        Ok((
            grads.x.map(|d| tensor(d, x.shape())),
            Some(tensor(grads.w, w.shape())),
            Some(tensor(grads.bias, bias.shape())),
        ))
    }
}

/// The f32 elements of a contiguous tensor on the device.
fn view<'a>((storage, layout): (&'a CudaStorage, &Layout)) -> Result<CudaView<'a, f32>> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(storage.as_cuda_slice::<f32>()?.slice(start..end)),
        None => bail!("recurrent kernel: expected a contiguous tensor"),
    }
}

/// [`view`] of a tensor's storage, which must be on a CUDA device.
fn tensor_view<'a>((storage, layout): &'a (StorageRef<'_>, &Layout)) -> Result<CudaView<'a, f32>> {
    match &**storage {
        Storage::Cuda(cuda) => view((cuda, *layout)),
        _ => bail!("recurrent kernel: expected a CUDA tensor"),
    }
}
