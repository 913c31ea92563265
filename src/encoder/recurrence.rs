//! The recurrence over all steps of one layer and direction, forward and backward through time,
//! on plain slices. Layouts are row-major: gates (time, batch, gates * hidden), states
//! (time, batch, hidden), w_hh (gates * hidden, hidden) as PyTorch stores it.
//!
//! The input side of the gates, gi = x W_ih^T, comes from the caller a block of steps at a time,
//! and backward hands the gates' gradients back the same way: a block is big enough for one
//! efficient matrix product and small enough to stay in cache until it is used, where whole
//! (time, batch, gates * hidden) buffers would go out to memory and back.
//!
//! Masking follows the reference path: at steps past a text's length its h (and c) are copied
//! from the step before, so out[time - 1] holds every text's final state and backward simply
//! passes the gradient of such a step on to the step before. A step's product with W_hh covers
//! only the rows up to its last text still running: with texts sorted longest first (as
//! `parts` arranges them) that is exactly the running ones, as with `pack_padded_sequence`.

use super::cells;
use super::products::matmul::product;
use super::products::{View, ViewMut, Weight};
use super::simd;
use super::workspace;
use crate::config::Cell;
use std::ops::Range;

/// (step, text) rows per block: a few hundred keep gemm at full speed, and a block's gates
/// (256 x 4 x 128 floats for the default LSTM) fit in L2 cache.
const BLOCK_ROWS: usize = 256;

/// The recurrence of one layer and direction over a batch: what a call works on, besides the
/// data.
#[derive(Debug, Clone)]
pub struct Recurrence {
    pub cell: Cell,
    /// One per text of the batch; every length is at most `time`.
    pub lengths: Vec<usize>,
    pub time: usize,
    pub hidden: usize,
}

/// What forward keeps for backward (besides its output).
#[derive(Debug, Default)]
pub struct Saved {
    /// (time, batch, saved activations * hidden): see `cells::LSTM_SAVED` and `cells::GRU_SAVED`.
    acts: Vec<f32>,
    /// LSTM only: c at every step, (time, batch, hidden); backward reads c_{t-1}.
    cells: Vec<f32>,
}

impl Drop for Saved {
    fn drop(&mut self) {
        workspace::give(std::mem::take(&mut self.acts));
        workspace::give(std::mem::take(&mut self.cells));
    }
}

/// Fills the input side of the gates for a block of steps, (steps, batch, gates * hidden),
/// given the rows running at each of those steps (rows past them are never read).
pub type InputGates<'a> = dyn FnMut(Range<usize>, &[usize], &mut [f32]) + 'a;

/// Takes the gradients of the gates' pre-activations for a block of steps, (steps, batch,
/// gates * hidden): first the input side (gi), then the hidden side (h_{t-1} W_hh^T). They differ
/// only for GRU, whose W_hn h sits inside r * (...).
pub type GateGrads<'a> = dyn FnMut(Range<usize>, &[f32], &[f32]) + 'a;

impl Recurrence {
    pub fn batch(&self) -> usize {
        self.lengths.len()
    }

    pub fn gate_width(&self) -> usize {
        self.cell.gates() * self.hidden
    }

    pub(super) fn saved_width(&self) -> usize {
        match self.cell {
            Cell::Lstm => cells::LSTM_SAVED * self.hidden,
            Cell::Gru => cells::GRU_SAVED * self.hidden,
            Cell::Rnn => 0,
        }
    }

    /// For each step, the rows up to and including the last text still running at it.
    pub(super) fn active_rows(&self) -> Vec<usize> {
        (0..self.time)
            .map(|t| {
                self.lengths
                    .iter()
                    .rposition(|&len| len > t)
                    .map_or(0, |b| b + 1)
            })
            .collect()
    }

    fn block_steps(&self) -> usize {
        (BLOCK_ROWS / self.batch().max(1)).max(1)
    }

    /// The blocks of steps, in time order.
    fn blocks(&self) -> impl DoubleEndedIterator<Item = Range<usize>> + '_ {
        let n = self.block_steps();
        (0..self.time)
            .step_by(n)
            .map(move |t| t..(t + n).min(self.time))
    }

    /// All hidden states (time, batch, hidden) and, with `save`, what backward needs.
    /// `bias` (gates * hidden) adds onto every gate; `b_hn` is GRU's hidden bias of the n gate,
    /// which sits inside r * (W_hn h + b_hn) (empty for the other cells).
    pub fn forward(
        &self,
        input: &mut InputGates,
        w_hh_t: &Weight,
        bias: &[f32],
        b_hn: &[f32],
        save: bool,
    ) -> (Vec<f32>, Saved) {
        simd::run(Forward {
            recurrence: self,
            input,
            w_hh_t,
            bias,
            b_hn,
            save,
        })
    }

    #[inline(always)]
    fn forward_any(
        &self,
        input: &mut InputGates,
        w_hh_t: &Weight,
        bias: &[f32],
        b_hn: &[f32],
        save: bool,
    ) -> (Vec<f32>, Saved) {
        let (time, batch, hs) = (self.time, self.batch(), self.hidden);
        let (gw, aw) = (self.gate_width(), self.saved_width());
        let state = batch * hs;
        let lstm = self.cell == Cell::Lstm;
        // Every step writes every text's h (and c): computed, or copied past the text's end.
        let mut out = workspace::take(time * state);
        let mut cells = workspace::take(if lstm { time * state } else { 0 });
        // Without `save` each step's activations overwrite the last one's.
        let mut acts = workspace::take(if save { time } else { 1 } * batch * aw);
        let mut gi = workspace::take(self.block_steps() * batch * gw);
        // Zeros: at t = 0 nothing is added for h_{-1}.
        let mut gh = vec![0.0; batch * gw];
        let zeros = vec![0.0; state];
        let active = self.active_rows();
        for block in self.blocks() {
            input(
                block.clone(),
                &active[block.clone()],
                &mut gi[..block.len() * batch * gw],
            );
            for t in block.clone() {
                let (h_prev, h_t) = step_pair(&mut out, t, state, &zeros);
                let (c_prev, c_t) = if lstm {
                    step_pair(&mut cells, t, state, &zeros)
                } else {
                    (&zeros[..], Default::default())
                };
                // h_{-1} = 0, so at t = 0 gh stays zero. Rows past `n` are not read.
                let n = active[t];
                if t > 0 && n > 0 {
                    let h_prev = View::dense(&h_prev[..n * hs], n, hs);
                    w_hh_t.step_product(ViewMut::dense(&mut gh[..n * gw], n, gw), h_prev);
                }
                let gi_t = &gi[(t - block.start) * batch * gw..][..batch * gw];
                let acts_t = &mut acts[if save { t * batch * aw } else { 0 }..][..batch * aw];
                for (b, &len) in self.lengths.iter().enumerate() {
                    let s = b * hs..(b + 1) * hs;
                    if t >= len {
                        h_t[s.clone()].copy_from_slice(&h_prev[s.clone()]);
                        if lstm {
                            c_t[s.clone()].copy_from_slice(&c_prev[s]);
                        }
                        continue;
                    }
                    let pre = [&gi_t[b * gw..(b + 1) * gw], &gh[b * gw..(b + 1) * gw], bias];
                    let a = &mut acts_t[b * aw..(b + 1) * aw];
                    match self.cell {
                        Cell::Lstm => {
                            let c = (&c_prev[s.clone()], &mut c_t[s.clone()]);
                            cells::lstm(pre, c.0, a, c.1, &mut h_t[s])
                        }
                        Cell::Gru => cells::gru(pre, b_hn, &h_prev[s.clone()], a, &mut h_t[s]),
                        Cell::Rnn => cells::rnn(pre, &mut h_t[s]),
                    }
                }
            }
        }
        workspace::give(gi);
        (out, Saved { acts, cells })
    }

    /// Backward from `d_out` (time, batch, hidden), the gradient of every state `forward`
    /// returned in `out`, with the `saved` of that same call. The gates' gradients go to
    /// `consume`, last block first.
    pub fn backward(
        &self,
        w_hh: View,
        out: &[f32],
        saved: &Saved,
        d_out: &[f32],
        consume: &mut GateGrads,
    ) {
        simd::run(Backward {
            recurrence: self,
            w_hh,
            out,
            saved,
            d_out,
            consume,
        })
    }

    #[inline(always)]
    fn backward_any(
        &self,
        w_hh: View,
        out: &[f32],
        saved: &Saved,
        d_out: &[f32],
        consume: &mut GateGrads,
    ) {
        let (batch, hs) = (self.batch(), self.hidden);
        let (gw, aw) = (self.gate_width(), self.saved_width());
        let state = batch * hs;
        let (lstm, gru) = (self.cell == Cell::Lstm, self.cell == Cell::Gru);
        let block_len = self.block_steps() * batch * gw;
        let mut d_gi = vec![0.0; block_len];
        let mut d_gh = vec![0.0; if gru { block_len } else { 0 }];
        // The gradients reaching h_t (and c_t) from later steps.
        let mut dh = vec![0.0; state];
        let mut dc = vec![0.0; if lstm { state } else { 0 }];
        let zeros = vec![0.0; state];
        let at = |buf, t| step(buf, t, state);
        let active = self.active_rows();
        for block in self.blocks().rev() {
            // Rows of steps past a text's end are never written, so they keep their zeros: the
            // text is past its end at the same row of every later block too.
            for t in block.clone().rev() {
                for (d, g) in dh.iter_mut().zip(at(d_out, t)) {
                    *d += g;
                }
                let h_prev = if t == 0 { &zeros[..] } else { at(out, t - 1) };
                let h_t = at(out, t);
                let c_prev = if lstm && t > 0 {
                    at(&saved.cells, t - 1)
                } else {
                    &zeros[..]
                };
                let acts_t = &saved.acts[t * batch * aw..(t + 1) * batch * aw];
                let rows = (t - block.start) * batch * gw..(t - block.start + 1) * batch * gw;
                let d_gi_t = &mut d_gi[rows.clone()];
                let d_gh_t = d_gh.get_mut(rows.clone()).unwrap_or_default();
                for (b, &len) in self.lengths.iter().enumerate() {
                    if t >= len {
                        continue; // the state was copied forward: its gradient goes back unchanged
                    }
                    let s = b * hs..(b + 1) * hs;
                    let g = b * gw..(b + 1) * gw;
                    let a = &acts_t[b * aw..(b + 1) * aw];
                    let dh = &mut dh[s.clone()];
                    match self.cell {
                        Cell::Lstm => {
                            cells::lstm_back(a, &c_prev[s.clone()], dh, &mut dc[s], &mut d_gi_t[g])
                        }
                        Cell::Gru => {
                            let d_gi_t = &mut d_gi_t[g.clone()];
                            cells::gru_back(a, &h_prev[s], dh, d_gi_t, &mut d_gh_t[g])
                        }
                        Cell::Rnn => cells::rnn_back(&h_t[s], dh, &mut d_gi_t[g]),
                    }
                }
                // Rows past `n` have zero gate gradients: their dh passes back unchanged.
                let n = active[t];
                if t > 0 && n > 0 {
                    let d_gates = if gru { &d_gh[rows] } else { &d_gi[rows] };
                    let d_gates = View::dense(&d_gates[..n * gw], n, gw);
                    product(
                        ViewMut::dense(&mut dh[..n * hs], n, hs),
                        d_gates,
                        w_hh,
                        true,
                    );
                }
            }
            let n = block.len() * batch * gw;
            let d_gh = if gru { &d_gh[..n] } else { &d_gi[..n] };
            consume(block, &d_gi[..n], d_gh);
        }
    }
}

/// [`Recurrence::forward`]'s arguments, as a job for [`simd::run`].
struct Forward<'a, 'f> {
    recurrence: &'a Recurrence,
    input: &'a mut InputGates<'f>,
    w_hh_t: &'a Weight,
    bias: &'a [f32],
    b_hn: &'a [f32],
    save: bool,
}

impl simd::Job for Forward<'_, '_> {
    type Output = (Vec<f32>, Saved);
    /// In prediction, where the products are quickest (bfloat16), the gate math is a fifth of
    /// the time.
    const AVX512: bool = true;

    #[inline(always)]
    fn run(self) -> Self::Output {
        (self.recurrence).forward_any(self.input, self.w_hh_t, self.bias, self.b_hn, self.save)
    }
}

/// [`Recurrence::backward`]'s arguments, as a job for [`simd::run`].
struct Backward<'a, 'f> {
    recurrence: &'a Recurrence,
    w_hh: View<'a>,
    out: &'a [f32],
    saved: &'a Saved,
    d_out: &'a [f32],
    consume: &'a mut GateGrads<'f>,
}

impl simd::Job for Backward<'_, '_> {
    type Output = ();
    /// Backward gained nothing from AVX-512 over AVX2.
    const AVX512: bool = false;

    #[inline(always)]
    fn run(self) {
        (self.recurrence).backward_any(self.w_hh, self.out, self.saved, self.d_out, self.consume)
    }
}

/// Step t of `buf`.
fn step(buf: &[f32], t: usize, state: usize) -> &[f32] {
    &buf[t * state..(t + 1) * state]
}

/// Step t - 1 of `buf` (zeros at t = 0) to read, and step t to write.
fn step_pair<'a>(
    buf: &'a mut [f32],
    t: usize,
    state: usize,
    zeros: &'a [f32],
) -> (&'a [f32], &'a mut [f32]) {
    let (done, rest) = buf.split_at_mut(t * state);
    let prev = if t == 0 {
        zeros
    } else {
        &done[(t - 1) * state..]
    };
    (prev, &mut rest[..state])
}
