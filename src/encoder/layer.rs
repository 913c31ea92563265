//! One layer and direction on slices: the input side of all steps as one product, the
//! recurrence, and in backward the weight, bias and input gradients as one product each.
//!
//! The weights arrive packed as PyTorch's tensors side by side: w = [W_ih | W_hh]
//! (gates * hidden, input + hidden) and bias = [b_ih, b_hh] (2 * gates * hidden), so that the
//! op has three inputs and the gradients land in the same places.

use super::matmul::{product, View, ViewMut};
use super::recurrence::{Problem, Saved};
use crate::config::Cell;

#[derive(Debug, Clone)]
pub struct Layer {
    pub recurrence: Problem,
    pub input: usize,
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

    /// Every step's h (time, batch, hidden) from x (time, batch, input), and with `save` what
    /// backward needs.
    pub fn forward(&self, x: &[f32], w: &[f32], bias: &[f32], save: bool) -> (Vec<f32>, Saved) {
        let p = &self.recurrence;
        let (gw, hs, rows) = (p.gate_width(), p.hidden, self.rows());
        let (w_ih, w_hh) = self.split(w);
        // Every bias but GRU's b_hn adds straight onto the gates; b_hn sits inside
        // r * (W_hn h + b_hn).
        let (b_ih, b_hh) = bias.split_at(gw);
        let folded = if p.cell == Cell::Gru { 2 * hs } else { gw };
        let mut gate_bias = b_ih.to_vec();
        for (b, h) in gate_bias.iter_mut().zip(&b_hh[..folded]) {
            *b += h;
        }
        let b_hn = if p.cell == Cell::Gru {
            &b_hh[2 * hs..]
        } else {
            &[]
        };
        let mut gi = vec![0.0; rows * gw];
        let x = View::dense(x, rows, self.input);
        product(ViewMut::dense(&mut gi, rows, gw), x, w_ih.t(), false);
        p.forward(&gi, w_hh, &gate_bias, b_hn, save)
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
        let d = p.backward(w_hh, out, saved, d_out);
        let d_gi = View::dense(&d.gi, rows, gw);
        let d_gh = if d.gh.is_empty() { &d.gi } else { &d.gh };

        let mut d_w = vec![0.0; gw * stride];
        // dW_ih = sum over (t, b) of d_gi^T x
        let x_view = View::dense(x, rows, self.input);
        product(
            ViewMut::new(&mut d_w, gw, self.input, stride),
            d_gi.t(),
            x_view,
            false,
        );
        // dW_hh = sum over t >= 1 of d_gh_t^T h_{t-1} (step 0 adds nothing: h_{-1} = 0)
        let history = rows.saturating_sub(batch);
        if history > 0 {
            let d_gh = View::dense(&d_gh[batch * gw..], history, gw);
            let h_prev = View::dense(&out[..history * hs], history, hs);
            let dst = ViewMut::new(&mut d_w[self.input..], gw, hs, stride);
            product(dst, d_gh.t(), h_prev, false);
        }
        let x = want_x.then(|| {
            let mut d_x = vec![0.0; rows * self.input];
            product(
                ViewMut::dense(&mut d_x, rows, self.input),
                d_gi,
                w_ih,
                false,
            );
            d_x
        });
        let mut d_bias = vec![0.0; 2 * gw];
        let (d_b_ih, d_b_hh) = d_bias.split_at_mut(gw);
        column_sums(&d.gi, d_b_ih);
        column_sums(d_gh, d_b_hh);
        Grads {
            x,
            w: d_w,
            bias: d_bias,
        }
    }
}

/// sums[j] = sum of column j over the rows of a row-major matrix `sums.len()` wide.
fn column_sums(m: &[f32], sums: &mut [f32]) {
    for row in m.chunks_exact(sums.len()) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}
