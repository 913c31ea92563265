//! Backward on the GPU: the gates' gradients at every step, either from the persistent kernel
//! over every step (`persistent`) or per step, last first, from one launch of the cell's
//! backward step kernel and one product that adds d_gates W_hh to the gradient reaching
//! h_{t-1}; then the weight, bias and input gradients as single products over every step.

use super::super::layer::Layer;
use super::super::parts::States;
use super::forward::{before, buffer, Inputs, Saved};
use super::gemm::{plain, product, transposed};
use super::kernels::{int, launch, StepKernels};
use super::persistent::{Launch, Way};
use crate::config::Cell;
use candle_core::cuda::cudarc::driver::{CudaSlice, CudaView, PushKernelArg};
use candle_core::cuda::CudaDevice;
use candle_core::Result;

/// Gradients of the op's inputs, laid out as they are.
pub struct Grads {
    /// (time, batch, input); None when not asked for.
    pub x: Option<CudaSlice<f32>>,
    /// (gates * hidden, input + hidden)
    pub w: CudaSlice<f32>,
    /// (2 * gates * hidden)
    pub bias: CudaSlice<f32>,
}

/// The gates' gradients at every step, (time, batch, gates * hidden), input side then hidden
/// side (the same buffer but for GRU).
struct GateGrads {
    input: CudaSlice<f32>,
    /// GRU only.
    hidden: CudaSlice<f32>,
    gru: bool,
}

impl GateGrads {
    fn hidden(&self) -> &CudaSlice<f32> {
        if self.gru {
            &self.hidden
        } else {
            &self.input
        }
    }
}

/// The gradients from `d_out`, the gradient of what forward returned: every step's h, or with
/// [`States::Final`] the last step's alone. `out` is every step's h, as forward left it.
#[allow(clippy::too_many_arguments)]
pub fn run(
    dev: &CudaDevice,
    layer: &Layer,
    (x, w, _): Inputs,
    out: &CudaView<f32>,
    saved: &Saved,
    d_out: &CudaView<f32>,
    states: States,
    want_x: bool,
) -> Result<Grads> {
    let gates = through_time(dev, layer, w, out, saved, d_out, states)?;
    let p = &layer.recurrence;
    let (batch, hs, input, gw) = (p.batch(), p.hidden, layer.input, p.gate_width());
    let (rows, stride) = (p.time * batch, input + hs);
    let blas = dev.cublas_handle();
    let mut d_w = dev.alloc_zeros::<f32>(gw * stride)?;
    // dW_ih = d_gi^T x over every (step, text) row.
    let d_gi = transposed(&gates.input, gw);
    product(
        &blas,
        (gw, input, rows),
        d_gi,
        plain(x, input),
        (&mut d_w, stride),
        0.0,
    )?;
    // dW_hh = d_gh_t^T h_{t-1} from step 1 on: step 0 adds nothing (h_{-1} = 0).
    let later = gates.hidden().slice(batch * gw..);
    let mut d_w_hh = d_w.slice_mut(input..);
    let (d_gh, h_prev) = (transposed(&later, gw), plain(out, hs));
    product(
        &blas,
        (gw, hs, rows - batch),
        d_gh,
        h_prev,
        (&mut d_w_hh, stride),
        0.0,
    )?;
    // The bias gradients are column sums: ones (1 x rows) times the gates' gradients.
    let ones = dev.clone_htod(&vec![1.0f32; rows])?;
    let mut d_bias = dev.alloc_zeros::<f32>(2 * gw)?;
    let (mut d_b_ih, mut d_b_hh) = d_bias.split_at_mut(gw);
    for (d_gates, d_b) in [(&gates.input, &mut d_b_ih), (gates.hidden(), &mut d_b_hh)] {
        product(
            &blas,
            (1, gw, rows),
            plain(&ones, rows),
            plain(d_gates, gw),
            (d_b, gw),
            0.0,
        )?;
    }
    let d_x = match want_x {
        true => {
            let mut d_x = buffer(dev, rows * input)?;
            let d_gi = plain(&gates.input, gw);
            product(
                &blas,
                (rows, input, gw),
                d_gi,
                plain(w, stride),
                (&mut d_x, input),
                0.0,
            )?;
            Some(d_x)
        }
        false => None,
    };
    Ok(Grads {
        x: d_x,
        w: d_w,
        bias: d_bias,
    })
}

/// Back through the steps, last first: the gates' gradients at every step. Every row is
/// written, with zeros for texts past their length.
fn through_time(
    dev: &CudaDevice,
    layer: &Layer,
    w: &CudaView<f32>,
    out: &CudaView<f32>,
    saved: &Saved,
    d_out: &CudaView<f32>,
    states: States,
) -> Result<GateGrads> {
    let p = &layer.recurrence;
    let (batch, gw, state) = (p.batch(), p.gate_width(), p.batch() * p.hidden);
    let (lstm, gru) = (p.cell == Cell::Lstm, p.cell == Cell::Gru);
    let mut gates = GateGrads {
        input: buffer(dev, p.time * batch * gw)?,
        hidden: buffer(dev, if gru { p.time * batch * gw } else { 0 })?,
        gru,
    };
    // The gradients reaching h_t (and c_t) from later steps. With the final state's gradient
    // alone, that is all there is at the last step, and no step's output adds any.
    let mut dh = dev.alloc_zeros::<f32>(state)?;
    if states == States::Final {
        dev.memcpy_dtod(d_out, &mut dh)?;
    }
    let dc = dev.alloc_zeros::<f32>(if lstm { state } else { 1 })?;
    let carried = Carried { dh, dc };
    let run = Forward { w, out, saved };
    match Launch::new(dev, Way::Backward, p.cell, (batch, p.hidden, p.time))? {
        Some(kernel) => persistent(dev, layer, &kernel, run, d_out, states, carried, &mut gates)?,
        None => steps(dev, layer, run, d_out, states, carried, &mut gates)?,
    }
    Ok(gates)
}

/// What backward reads of forward: w, every step's h, and what forward kept.
struct Forward<'a, 'b> {
    w: &'a CudaView<'b, f32>,
    out: &'a CudaView<'b, f32>,
    saved: &'a Saved,
}

/// The gradients reaching the last step's h and c, which backward carries back.
struct Carried {
    dh: CudaSlice<f32>,
    dc: CudaSlice<f32>,
}

/// Every step in one launch of the persistent kernel.
#[allow(clippy::too_many_arguments)]
fn persistent(
    dev: &CudaDevice,
    layer: &Layer,
    kernel: &Launch,
    f: Forward,
    d_out: &CudaView<f32>,
    states: States,
    mut c: Carried,
    gates: &mut GateGrads,
) -> Result<()> {
    let stride = int(layer.input + layer.recurrence.hidden)?;
    let every_step = i32::from(states == States::EveryStep);
    let w_hh = f.w.slice(layer.input..);
    let mut arrived = dev.alloc_zeros::<u32>(kernel.chunks())?;
    let mut args = kernel.args();
    args.arg(&f.saved.lengths)
        .arg(&f.saved.acts)
        .arg(&f.saved.cells)
        .arg(f.out);
    args.arg(d_out).arg(&every_step).arg(&w_hh).arg(&stride);
    args.arg(&mut c.dh).arg(&mut c.dc);
    args.arg(&mut gates.input)
        .arg(&mut gates.hidden)
        .arg(&mut arrived);
    // SAFETY: PERSISTENT_BACKWARD_ARGS in order, over buffers of the geometry's sizes.
    unsafe { kernel.launch(args) }
}

/// Per step, last first, one launch of the backward step kernel and one product with W_hh.
fn steps(
    dev: &CudaDevice,
    layer: &Layer,
    f: Forward,
    d_out: &CudaView<f32>,
    states: States,
    mut c: Carried,
    gates: &mut GateGrads,
) -> Result<()> {
    let p = &layer.recurrence;
    let (batch, hs, input) = (p.batch(), p.hidden, layer.input);
    let (gw, aw, state, stride) = (p.gate_width(), p.saved_width(), batch * hs, input + hs);
    let (lstm, gru) = (p.cell == Cell::Lstm, p.cell == Cell::Gru);
    let (blas, kernels) = (dev.cublas_handle(), StepKernels::load(dev, p.cell)?);
    let zeros = dev.alloc_zeros::<f32>(state)?;
    let (saved, out) = (f.saved, f.out);
    let w_hh = f.w.slice(input..);
    let (batch_arg, hidden_arg) = (int(batch)?, int(hs)?);
    for (t, &n) in p.active_rows().iter().enumerate().rev() {
        let cells = saved.cells.slice(..);
        let c_prev = match lstm {
            true => before(&cells, &zeros, t, state),
            false => zeros.slice(..),
        };
        let (h_prev, h_t) = (before(out, &zeros, t, state), out.slice(t * state..));
        let d_out_t = match states {
            States::EveryStep => d_out.slice(t * state..),
            States::Final => zeros.slice(..),
        };
        let acts_t = saved.acts.slice(t * batch * aw..);
        let rows = t * batch * gw;
        let mut d_gi_t = gates.input.slice_mut(rows..);
        let mut d_gh_t = gates.hidden.slice_mut(if gru { rows } else { 0 }..);
        let t_arg = int(t)?;
        let mut args = kernels.backward();
        args.arg(&batch_arg)
            .arg(&hidden_arg)
            .arg(&t_arg)
            .arg(&saved.lengths);
        args.arg(&acts_t)
            .arg(&c_prev)
            .arg(&h_prev)
            .arg(&h_t)
            .arg(&d_out_t);
        args.arg(&mut c.dh)
            .arg(&mut c.dc)
            .arg(&mut d_gi_t)
            .arg(&mut d_gh_t);
        // SAFETY: BACKWARD_ARGS in order; every buffer holds this step's (batch, ...) rows.
        unsafe { launch(args, state) }?;
        // Rows past `n` have zero gate gradients: their dh passes back as it is.
        if t > 0 && n > 0 {
            let d_gates = gates.hidden().slice(rows..);
            let d_gates = plain(&d_gates, gw);
            product(
                &blas,
                (n, hs, gw),
                d_gates,
                plain(&w_hh, stride),
                (&mut c.dh, hs),
                1.0,
            )?;
        }
    }
    Ok(())
}
