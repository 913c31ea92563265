//! One layer and direction on slices: the recurrence, fed the input side of its gates x W_ih^T
//! one block of steps at a time (one product per block), and in backward the input, weight and
//! bias gradients taken from each block of gate gradients as it comes (one product each).
//!
//! The weights arrive packed as PyTorch's tensors side by side: w = [W_ih | W_hh]
//! (gates * hidden, input + hidden) and bias = [b_ih, b_hh] (2 * gates * hidden), so that the
//! op has three inputs and the gradients land in the same places.

use super::products::matmul::product;
use super::products::{View, ViewMut, Weight};
use super::projection::{Scratch, Words};
use super::recurrence::{Recurrence, Saved};
use super::workspace;
use crate::config::Cell;
use std::ops::Range;

#[derive(Debug, Clone)]
pub struct Layer {
    pub recurrence: Recurrence,
    /// Width of x: the embedding for the first layer, directions * hidden above it.
    pub input: usize,
    /// Forward-only calls (nothing saved for backward) multiply in bfloat16 where the CPU can.
    pub bf16: bool,
}

/// What a layer reads: x itself, or (first layer, prediction) its words, whose products with
/// W_ih^T are kept in a table.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// x, (time, batch, input).
    Values(&'a [f32]),
    /// The first layer's words.
    Words(Words<'a>),
}

/// What [`Layer::prepare`] makes of the weights.
pub struct Prepared {
    w_ih_t: Weight,
    w_hh_t: Weight,
    /// Both biases added up, but for GRU's b_hn.
    gate_bias: Vec<f32>,
    /// GRU's b_hn (empty for the other cells).
    b_hn: Vec<f32>,
}

/// Gradients of the packed inputs.
pub struct Grads {
    /// (time, batch, input); None when not asked for.
    pub x: Option<Vec<f32>>,
    /// (gates * hidden, input + hidden)
    pub w: Vec<f32>,
    /// (2 * gates * hidden)
    pub bias: Vec<f32>,
}

impl Layer {
    fn rows(&self) -> usize {
        self.recurrence.time * self.recurrence.batch()
    }

    /// W_ih (gates * hidden, input) and W_hh (gates * hidden, hidden) inside w.
    fn split<'a>(&self, w: &'a [f32]) -> (View<'a>, View<'a>) {
        let (gw, hs) = (self.recurrence.gate_width(), self.recurrence.hidden);
        let stride = self.input + hs;
        let w_hh = w.get(self.input..).unwrap_or_default();
        (
            View::new(w, gw, self.input, stride),
            View::new(w_hh, gw, hs, stride),
        )
    }

    /// The weights of one call, laid out once for every part of the batch. With `save`
    /// (training) they stay f32: gradients would otherwise follow a rounded forward. W_ih for
    /// [`Source::Words`] stays f32 too, as the rows its table keeps.
    pub fn prepare(&self, w: &[f32], bias: &[f32], save: bool, words: bool) -> Prepared {
        let p = &self.recurrence;
        let (gw, hs) = (p.gate_width(), p.hidden);
        let (w_ih, w_hh) = self.split(w);
        // Every bias but GRU's b_hn adds straight onto the gates; b_hn sits inside
        // r * (W_hn h + b_hn).
        let (b_ih, b_hh) = bias.split_at(gw);
        let folded = if p.cell == Cell::Gru { 2 * hs } else { gw };
        let mut gate_bias = b_ih.to_vec();
        for (b, h) in gate_bias.iter_mut().zip(&b_hh[..folded]) {
            *b += h;
        }
        let bf16 = self.bf16 && !save;
        Prepared {
            w_ih_t: Weight::new(w_ih.t(), bf16 && !words),
            // Panels for the few-row step products cost a copy of W_hh: paid once where
            // prediction keeps the prepared weights, not at every training step.
            w_hh_t: if save {
                Weight::new(w_hh.t(), bf16)
            } else {
                Weight::for_steps(w_hh.t(), bf16)
            },
            gate_bias,
            b_hn: b_hh[folded..].to_vec(),
        }
    }

    /// Every step's h (time, batch, hidden) from x (time, batch, input), and with `save` what
    /// backward needs.
    pub fn forward(&self, x: Source, weights: &Prepared, save: bool) -> (Vec<f32>, Saved) {
        let p = &self.recurrence;
        let w_ih_t = &weights.w_ih_t;
        let mut scratch = Scratch::default();
        let mut input = |block: Range<usize>, active: &[usize], gi: &mut [f32]| match x {
            Source::Values(x) => self.input_product(x, w_ih_t, block, active, gi),
            Source::Words(words) => words.fill(block, active, gi, w_ih_t, &mut scratch),
        };
        let (bias, b_hn) = (&weights.gate_bias, &weights.b_hn);
        p.forward(&mut input, &weights.w_hh_t, bias, b_hn, save)
    }

    /// gi = x W_ih^T over a block of steps, for the rows running at each.
    fn input_product(
        &self,
        x: &[f32],
        w_ih_t: &Weight,
        block: Range<usize>,
        active: &[usize],
        gi: &mut [f32],
    ) {
        let (gw, batch) = (self.recurrence.gate_width(), self.recurrence.batch());
        let row = batch * self.input;
        let running: usize = active.iter().sum();
        if 4 * running >= 3 * block.len() * batch {
            // Few rows past their text's end: one product for the whole block.
            let x = View::dense(
                &x[block.start * row..block.end * row],
                block.len() * batch,
                self.input,
            );
            w_ih_t.product(ViewMut::dense(gi, block.len() * batch, gw), x);
            return;
        }
        // Texts of very different lengths (prediction batches): a product per step over
        // its running texts only. The other rows are never read.
        for ((i, t), &n) in block.enumerate().zip(active) {
            let x = View::dense(&x[t * row..t * row + n * self.input], n, self.input);
            let gi = ViewMut::dense(&mut gi[i * batch * gw..(i * batch + n) * gw], n, gw);
            w_ih_t.product(gi, x);
        }
    }

    /// Gradients from `d_out`, the gradient of every state that `forward` returned as `out`.
    pub fn backward(
        &self,
        x: &[f32],
        w: &[f32],
        out: &[f32],
        saved: &Saved,
        d_out: &[f32],
        want_x: bool,
    ) -> Grads {
        let p = &self.recurrence;
        let (gw, hs, rows, batch) = (p.gate_width(), p.hidden, self.rows(), p.batch());
        let stride = self.input + hs;
        let (w_ih, w_hh) = self.split(w);
        let mut d_w = vec![0.0; gw * stride];
        // Each block's product writes all of its rows.
        let mut d_x = want_x.then(|| workspace::take(rows * self.input));
        let mut d_bias = vec![0.0; 2 * gw];
        let (row_x, row_h) = (batch * self.input, batch * hs);
        let mut consume = |block: Range<usize>, d_gi: &[f32], d_gh: &[f32]| {
            let n = block.len() * batch;
            let x = &x[block.start * row_x..block.end * row_x];
            let d_gi_rows = View::dense(d_gi, n, gw);
            // dW_ih += d_gi^T x over the block's (step, text) rows
            let d_w_ih = ViewMut::new(&mut d_w, gw, self.input, stride);
            product(d_w_ih, d_gi_rows.t(), View::dense(x, n, self.input), true);
            // dW_hh += d_gh_t^T h_{t-1}; step 0 adds nothing (h_{-1} = 0)
            let first = block.start.max(1);
            if first < block.end {
                let m = (block.end - first) * batch;
                let d_gh = View::dense(&d_gh[(first - block.start) * batch * gw..], m, gw);
                let h_prev = View::dense(&out[(first - 1) * row_h..(block.end - 1) * row_h], m, hs);
                let d_w_hh = ViewMut::new(&mut d_w[self.input..], gw, hs, stride);
                product(d_w_hh, d_gh.t(), h_prev, true);
            }
            if let Some(d_x) = d_x.as_mut() {
                let d_x = &mut d_x[block.start * row_x..block.end * row_x];
                product(ViewMut::dense(d_x, n, self.input), d_gi_rows, w_ih, false);
            }
            let (d_b_ih, d_b_hh) = d_bias.split_at_mut(gw);
            column_sums(d_gi, d_b_ih);
            column_sums(d_gh, d_b_hh);
        };
        p.backward(w_hh, out, saved, d_out, &mut consume);
        Grads {
            x: d_x,
            w: d_w,
            bias: d_bias,
        }
    }
}

/// `sums[j] +=` the sum of column j over the rows of a row-major matrix `sums.len()` wide.
fn column_sums(m: &[f32], sums: &mut [f32]) {
    for row in m.chunks_exact(sums.len()) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}
