//! The recurrent encoder: lstm, gru or rnn, stacked and optionally bidirectional, over padded batches.
//!
//! candle-nn's LSTM steps over every position, padding included, and only forwards. Here each
//! text's state stops changing after its own last token (so padding never changes a result), and
//! the backward direction reads each text from its own last token to its first, as PyTorch's
//! `pack_padded_sequence` does.

use crate::config::Cell;
use crate::dropout::Dropout;
use candle_core::{Device, Result, Tensor, D};

/// The four tensors PyTorch keeps per layer and direction. In the tutorial's notation
/// U = weight_ih^T (m x n per gate) and W = weight_hh^T (n x n per gate).
#[derive(Debug, Clone)]
pub struct DirectionWeights {
    pub weight_ih: Tensor,
    pub weight_hh: Tensor,
    pub bias_ih: Tensor,
    pub bias_hh: Tensor,
}

/// A stack of recurrent layers; `layers[l][d]` holds layer l, direction d (1 = reverse).
#[derive(Debug, Clone)]
pub struct Encoder {
    cell: Cell,
    hidden: usize,
    layers: Vec<Vec<DirectionWeights>>,
}

/// Per-batch bookkeeping shared by every layer and direction.
pub struct Steps {
    lengths: Vec<usize>,
    /// masks[t]: (batch, 1) u8, 1 where step t is inside the text; None where every text is.
    masks: Vec<Option<Tensor>>,
    /// Flat index into (time * batch) that reverses each text within its own length.
    reverse: Tensor,
}

impl Steps {
    /// `time` is the padded length (at least 1, so empty texts still flow through the graph).
    pub fn new(lengths: &[usize], time: usize, device: &Device) -> Result<Self> {
        let batch = lengths.len();
        let min_len = lengths.iter().copied().min().unwrap_or(0);
        let mut masks = Vec::with_capacity(time);
        for t in 0..time {
            if t < min_len {
                masks.push(None);
            } else {
                let m: Vec<u8> = lengths.iter().map(|&l| u8::from(t < l)).collect();
                masks.push(Some(Tensor::from_vec(m, (batch, 1), device)?));
            }
        }
        let mut reverse = Vec::with_capacity(time * batch);
        for t in 0..time {
            for (b, &len) in lengths.iter().enumerate() {
                let src = if t < len { len - 1 - t } else { t };
                reverse.push((src * batch + b) as u32);
            }
        }
        let reverse = Tensor::from_vec(reverse, time * batch, device)?;
        Ok(Self {
            lengths: lengths.to_vec(),
            masks,
            reverse,
        })
    }

    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// Reverses each text in (time, batch, features) within its length; padding stays put.
    /// Applying it twice gives the input back.
    fn reverse(&self, xs: &Tensor) -> Result<Tensor> {
        let (t, b, f) = xs.dims3()?;
        xs.reshape((t * b, f))?
            .index_select(&self.reverse, 0)?
            .reshape((t, b, f))
    }
}

impl Encoder {
    pub fn new(cell: Cell, hidden: usize, layers: Vec<Vec<DirectionWeights>>) -> Self {
        Self {
            cell,
            hidden,
            layers,
        }
    }

    /// xs (time, batch, input) -> final states (batch, directions * hidden): for each text the
    /// forward state after its last token, then the backward state after its first.
    pub fn forward(
        &self,
        xs: &Tensor,
        steps: &Steps,
        mut dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let mut input = xs.clone();
        let mut finals = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            let last = l + 1 == self.layers.len();
            finals.clear();
            let mut outputs = Vec::new();
            for (d, weights) in layer.iter().enumerate() {
                let reverse = d == 1;
                let xin = if reverse {
                    steps.reverse(&input)?
                } else {
                    input.clone()
                };
                let (h, outs) = self.run(weights, &xin, steps, !last)?;
                finals.push(h);
                if let Some(outs) = outs {
                    outputs.push(if reverse { steps.reverse(&outs)? } else { outs });
                }
            }
            if !last {
                input = Tensor::cat(&outputs, D::Minus1)?;
                if let Some(d) = dropout.as_deref_mut() {
                    input = d.apply(&input)?;
                }
            }
        }
        Tensor::cat(&finals, D::Minus1)
    }

    /// One direction of one layer: the final state and, if asked, the state at every step.
    fn run(
        &self,
        w: &DirectionWeights,
        xs: &Tensor,
        steps: &Steps,
        keep_outputs: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (time, batch, _) = xs.dims3()?;
        let hs = self.hidden;
        let zeros = Tensor::zeros((batch, hs), xs.dtype(), xs.device())?;
        let mut h = zeros.clone();
        let mut c = zeros;
        let w_ih = w.weight_ih.t()?;
        let w_hh = w.weight_hh.t()?;
        // GRU keeps b_hh apart: it sits inside r * (W_hn h + b_hn).
        let bias = match self.cell {
            Cell::Gru => None,
            _ => Some(w.bias_ih.add(&w.bias_hh)?.unsqueeze(0)?),
        };
        let mut outputs = Vec::with_capacity(if keep_outputs { time } else { 0 });
        for t in 0..time {
            let x = xs.get(t)?; // (batch, input)
            let gi = x.matmul(&w_ih)?; // (batch, gates * hidden)
            let gh = h.matmul(&w_hh)?;
            let (h_new, c_new) = match self.cell {
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
}

/// Zero-length texts have no tokens; they still need one (padding) step to flow through.
pub fn padded_time(lengths: &[usize]) -> usize {
    lengths.iter().copied().max().unwrap_or(0).max(1)
}
