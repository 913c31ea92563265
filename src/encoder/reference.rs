//! The reference path: one direction of one layer stepped with plain candle ops.
//!
//! It runs on every device and dtype, and it is the definition the fused kernel is tested
//! against; f32 on the CPU or a CUDA GPU uses [`super::fused`] instead.

use super::direction::DirectionWeights;
use super::steps::Steps;
use crate::config::Cell;
use candle_core::{Result, Tensor};

/// One direction of one layer: the final state and, if asked, the state at every step.
pub fn run(
    cell: Cell,
    hidden: usize,
    w: &DirectionWeights,
    xs: &Tensor,
    steps: &Steps,
    keep_outputs: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let (time, batch, _) = xs.dims3()?;
    let hs = hidden;
    let zeros = Tensor::zeros((batch, hs), xs.dtype(), xs.device())?;
    let mut h = zeros.clone();
    let mut c = zeros;
    let w_ih = w.weight_ih.t()?;
    let w_hh = w.weight_hh.t()?;
    // GRU keeps b_hh apart: it sits inside r * (W_hn h + b_hn).
    let bias = match cell {
        Cell::Gru => None,
        _ => Some(w.bias_ih.add(&w.bias_hh)?.unsqueeze(0)?),
    };
    let mut outputs = Vec::with_capacity(if keep_outputs { time } else { 0 });
    for t in 0..time {
        let x = xs.get(t)?; // (batch, input)
        let gi = x.matmul(&w_ih)?; // (batch, gates * hidden)
        let gh = h.matmul(&w_hh)?;
        let (h_new, c_new) =
            match cell {
                Cell::Rnn => {
                    let pre = gi
                        .add(&gh)?
                        .broadcast_add(bias.as_ref().expect("rnn bias"))?;
                    (pre.tanh()?, None)
                }
                Cell::Lstm => {
                    let gates = gi
                        .add(&gh)?
                        .broadcast_add(bias.as_ref().expect("lstm bias"))?;
                    let i = candle_nn::ops::sigmoid(&gates.narrow(1, 0, hs)?)?;
                    let f = candle_nn::ops::sigmoid(&gates.narrow(1, hs, hs)?)?;
                    let g = gates.narrow(1, 2 * hs, hs)?.tanh()?;
                    let o = candle_nn::ops::sigmoid(&gates.narrow(1, 3 * hs, hs)?)?;
                    let c_new = f.mul(&c)?.add(&i.mul(&g)?)?;
                    (o.mul(&c_new.tanh()?)?, Some(c_new))
                }
                Cell::Gru => {
                    let gi = gi.broadcast_add(&w.bias_ih)?;
                    let gh = gh.broadcast_add(&w.bias_hh)?;
                    let rz = candle_nn::ops::sigmoid(
                        &gi.narrow(1, 0, 2 * hs)?.add(&gh.narrow(1, 0, 2 * hs)?)?,
                    )?;
                    let r = rz.narrow(1, 0, hs)?;
                    let z = rz.narrow(1, hs, hs)?;
                    let n = gi
                        .narrow(1, 2 * hs, hs)?
                        .add(&r.mul(&gh.narrow(1, 2 * hs, hs)?)?)?
                        .tanh()?;
                    // (1 - z) * n + z * h
                    (n.add(&z.mul(&h.sub(&n)?)?)?, None)
                }
            };
        // Past a text's end its state is carried unchanged; where_cond keeps it bit-exact.
        match &steps.masks[t] {
            None => {
                h = h_new;
                if let Some(c_new) = c_new {
                    c = c_new;
                }
            }
            Some(mask) => {
                let mask = mask.broadcast_as((batch, hs))?;
                h = mask.where_cond(&h_new, &h)?;
                if let Some(c_new) = c_new {
                    c = mask.where_cond(&c_new, &c)?;
                }
            }
        }
        if keep_outputs {
            outputs.push(h.clone());
        }
    }
    let outputs = if keep_outputs {
        Some(Tensor::stack(&outputs, 0)?)
    } else {
        None
    };
    Ok((h, outputs))
}
