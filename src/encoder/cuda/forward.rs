//! Forward on the GPU: the input side of every step as one product, then either the persistent
//! kernel over every step (`persistent`), or per step one product h_{t-1} W_hh^T and one launch
//! of the cell's step kernel, which adds the biases, applies the gates, updates the state and
//! carries the state of texts past their length.

use super::super::layer::Layer;
use super::gemm::{plain, product, transposed};
use super::kernels::{int, launch, StepKernels};
use super::persistent::{Launch, Way};
use crate::config::Cell;
use candle_core::cuda::cudarc::driver::{CudaSlice, CudaView, PushKernelArg};
use candle_core::cuda::CudaDevice;
use candle_core::Result;

/// What backward needs besides every step's h.
pub struct Saved {
    /// (time, batch, kept * hidden), as the step kernel writes them (LSTM and GRU).
    pub acts: CudaSlice<f32>,
    /// LSTM: c at every step, (time, batch, hidden).
    pub cells: CudaSlice<f32>,
    /// Each text's length.
    pub lengths: CudaSlice<u32>,
}

/// What forward leaves on the device.
pub struct Run {
    /// Every step's h, (time, batch, hidden).
    pub out: CudaSlice<f32>,
    /// With `save`; otherwise its activations are one step's, overwritten at every step.
    pub saved: Saved,
}

/// The op's inputs: x (time, batch, input), w = [W_ih | W_hh] and bias = [b_ih, b_hh].
pub type Inputs<'a, 'b> = (
    &'a CudaView<'b, f32>,
    &'a CudaView<'b, f32>,
    &'a CudaView<'b, f32>,
);

/// A buffer of `len` floats, left unset: every caller writes all of what it reads. Empty
/// buffers (the cells of GRU and RNN, the activations of RNN) get one float, which no kernel
/// touches, because a launch cannot be handed nothing.
pub fn buffer(dev: &CudaDevice, len: usize) -> Result<CudaSlice<f32>> {
    // SAFETY: f32 has no invalid bit patterns, and nothing is read before it is written.
    unsafe { dev.alloc::<f32>(len.max(1)) }
}

/// Every step's h of the layer over x, and with `save` all that backward needs.
pub fn run(dev: &CudaDevice, layer: &Layer, (x, w, bias): Inputs, save: bool) -> Result<Run> {
    let p = &layer.recurrence;
    let (time, batch, hs, input) = (p.time, p.batch(), p.hidden, layer.input);
    let (gw, aw, state, stride) = (p.gate_width(), p.saved_width(), batch * hs, input + hs);
    let lstm = p.cell == Cell::Lstm;
    let blas = dev.cublas_handle();
    let lengths: Vec<u32> = p.lengths.iter().map(|&l| l as u32).collect();
    let lengths = dev.clone_htod(&lengths)?;
    // The input side of every step at once; the biases join in the step kernel.
    let mut gi = buffer(dev, time * batch * gw)?;
    let x_rows = plain(x, input);
    product(
        &blas,
        (time * batch, gw, input),
        x_rows,
        transposed(w, stride),
        (&mut gi, gw),
        0.0,
    )?;
    let mut out = buffer(dev, time * state)?;
    let mut cells = buffer(dev, if lstm { time * state } else { 0 })?;
    let mut acts = buffer(dev, if save { time } else { 1 } * batch * aw)?;
    let bufs = Outputs {
        out: &mut out,
        cells: &mut cells,
        acts: &mut acts,
    };
    match Launch::new(dev, Way::Forward, p.cell, (batch, hs, time))? {
        Some(kernel) => persistent(dev, layer, &kernel, (&gi, w, bias), &lengths, bufs, save)?,
        None => steps(dev, layer, (&gi, w, bias), &lengths, bufs, save)?,
    }
    let saved = Saved {
        acts,
        cells,
        lengths,
    };
    Ok(Run { out, saved })
}

/// What forward writes: every step's h and c, and the activations backward needs.
struct Outputs<'a> {
    out: &'a mut CudaSlice<f32>,
    cells: &'a mut CudaSlice<f32>,
    acts: &'a mut CudaSlice<f32>,
}

/// The input side of every step, (time, batch, gates * hidden), with w and bias.
type Sides<'a, 'b> = (
    &'a CudaSlice<f32>,
    &'a CudaView<'b, f32>,
    &'a CudaView<'b, f32>,
);

/// Every step in one launch of the persistent kernel.
fn persistent(
    dev: &CudaDevice,
    layer: &Layer,
    kernel: &Launch,
    (gi, w, bias): Sides,
    lengths: &CudaSlice<u32>,
    o: Outputs,
    save: bool,
) -> Result<()> {
    let p = &layer.recurrence;
    let stride = int(layer.input + p.hidden)?;
    let acts_step = int(if save { p.batch() * p.saved_width() } else { 0 })?;
    let w_hh = w.slice(layer.input..);
    let mut arrived = dev.alloc_zeros::<u32>(kernel.chunks())?;
    let mut args = kernel.args();
    args.arg(lengths).arg(gi).arg(&w_hh).arg(&stride).arg(bias);
    args.arg(o.out).arg(o.cells).arg(o.acts).arg(&acts_step);
    args.arg(&mut arrived);
    // SAFETY: PERSISTENT_FORWARD_ARGS in order, over buffers of the geometry's sizes.
    unsafe { kernel.launch(args) }
}

/// Per step, one product with W_hh and one launch of the step kernel.
fn steps(
    dev: &CudaDevice,
    layer: &Layer,
    (gi, w, bias): Sides,
    lengths: &CudaSlice<u32>,
    o: Outputs,
    save: bool,
) -> Result<()> {
    let p = &layer.recurrence;
    let (batch, hs, input) = (p.batch(), p.hidden, layer.input);
    let (gw, aw, state, stride) = (p.gate_width(), p.saved_width(), batch * hs, input + hs);
    let lstm = p.cell == Cell::Lstm;
    let (blas, kernels) = (dev.cublas_handle(), StepKernels::load(dev, p.cell)?);
    let w_hh = w.slice(input..);
    // h_{-1} and c_{-1} are zero, and so is h_{-1} W_hh^T, which t = 0 reads from gh.
    let mut gh = dev.alloc_zeros::<f32>(batch * gw)?;
    let zeros = dev.alloc_zeros::<f32>(state)?;
    let active = p.active_rows();
    let (batch_arg, hidden_arg) = (int(batch)?, int(hs)?);
    for (t, &n) in active.iter().enumerate() {
        let (done, mut h_t) = o.out.split_at_mut(t * state);
        let done = done.slice(..);
        let h_prev = before(&done, &zeros, t, state);
        // Rows past `n` (texts that have ended) keep what they held: the kernel does not read
        // them.
        if t > 0 && n > 0 {
            let h_rows = plain(&h_prev, hs);
            product(
                &blas,
                (n, gw, hs),
                h_rows,
                transposed(&w_hh, stride),
                (&mut gh, gw),
                0.0,
            )?;
        }
        let (c_done, mut c_t) = o.cells.split_at_mut(if lstm { t * state } else { 0 });
        let c_done = c_done.slice(..);
        let c_prev = match lstm {
            true => before(&c_done, &zeros, t, state),
            false => zeros.slice(..),
        };
        let gi_t = gi.slice(t * batch * gw..);
        let mut acts_t = o.acts.slice_mut(if save { t * batch * aw } else { 0 }..);
        let t_arg = int(t)?;
        let mut args = kernels.forward();
        args.arg(&batch_arg)
            .arg(&hidden_arg)
            .arg(&t_arg)
            .arg(lengths);
        args.arg(&gi_t).arg(&gh).arg(bias).arg(&h_prev).arg(&c_prev);
        args.arg(&mut h_t).arg(&mut c_t).arg(&mut acts_t);
        // SAFETY: FORWARD_ARGS in order; every buffer holds this step's (batch, ...) rows.
        unsafe { launch(args, state) }?;
    }
    Ok(())
}

/// Step t - 1 of a (time, batch, hidden) buffer, or zeros at t = 0.
pub(super) fn before<'a>(
    buf: &CudaView<'a, f32>,
    zeros: &'a CudaSlice<f32>,
    t: usize,
    state: usize,
) -> CudaView<'a, f32> {
    match t {
        0 => zeros.slice(..),
        _ => buf.slice((t - 1) * state..),
    }
}
