//! A layer's batch split across threads. Texts never meet in the recurrence, so each part of
//! the batch runs the whole layer (input products, every step, backward) on its own thread with
//! no synchronization per step; only the weight and bias gradients are added up at the end.
//!
//! Each part holds its texts longest first, so that the recurrence can shrink each step's product
//! to the texts still running, and parts take every k-th text of that order, so that each thread
//! gets the same amount of work. A text's forward values do not depend on the split; the weight
//! gradients are sums over the parts in part order, so they repeat exactly for a given number of
//! threads and differ only in rounding between thread counts.

use super::layer::{Grads, Layer};
use super::recurrence::Saved;
use super::workspace;
use rayon::prelude::*;
use std::cmp::Reverse;

/// Below this many texts per part, a step's product is too small for a thread to pay off.
const MIN_PART_TEXTS: usize = 8;

/// One layer and direction over a batch, split into parts.
#[derive(Debug, Clone)]
pub struct Split {
    /// The whole batch.
    whole: Layer,
    /// Each part's texts (indices into the batch) and the layer over just those texts; empty
    /// when the batch, already longest first, runs as it is.
    parts: Vec<(Vec<usize>, Layer)>,
}

impl Split {
    /// Splits `whole` into up to `threads` parts of at least [`MIN_PART_TEXTS`] texts.
    pub fn new(whole: Layer, threads: usize) -> Self {
        let lengths = &whole.recurrence.lengths;
        let batch = lengths.len();
        let k = threads.min(batch / MIN_PART_TEXTS).max(1);
        if k == 1 && lengths.windows(2).all(|w| w[0] >= w[1]) {
            return Self {
                whole,
                parts: Vec::new(),
            };
        }
        let mut order: Vec<usize> = (0..batch).collect();
        order.sort_by_key(|&b| Reverse(lengths[b]));
        let parts = (0..k)
            .map(|p| {
                let texts: Vec<usize> = order[p..].iter().step_by(k).copied().collect();
                let mut layer = whole.clone();
                layer.recurrence.lengths = texts.iter().map(|&b| lengths[b]).collect();
                (texts, layer)
            })
            .collect();
        Self { whole, parts }
    }

    pub fn whole(&self) -> &Layer {
        &self.whole
    }

    /// [`Layer::forward`] over the batch; the saved activations come one per part.
    pub fn forward(
        &self,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        save: bool,
    ) -> (Vec<f32>, Vec<Saved>) {
        let weights = self.whole.prepare(w, bias, save);
        if self.parts.is_empty() {
            let (out, saved) = self.whole.forward(x, &weights, save);
            return (out, vec![saved]);
        }
        let runs = self.map_parts(|(texts, layer), _| {
            let x = self.gather(x, self.whole.input, texts);
            let run = layer.forward(&x, &weights, save);
            workspace::give(x);
            run
        });
        let hs = self.whole.recurrence.hidden;
        // The parts' rows together are all of it.
        let mut out = workspace::take(self.whole.recurrence.time * self.batch() * hs);
        let mut saved = Vec::with_capacity(runs.len());
        for ((texts, _), (part_out, part_saved)) in self.parts.iter().zip(runs) {
            self.scatter(&part_out, &mut out, hs, texts);
            workspace::give(part_out);
            saved.push(part_saved);
        }
        (out, saved)
    }

    /// [`Layer::backward`] over the batch, from what [`forward`](Self::forward) returned.
    pub fn backward(
        &self,
        x: &[f32],
        w: &[f32],
        out: &[f32],
        saved: &[Saved],
        d_out: &[f32],
        want_x: bool,
    ) -> Grads {
        if self.parts.is_empty() {
            return self.whole.backward(x, w, out, &saved[0], d_out, want_x);
        }
        let hs = self.whole.recurrence.hidden;
        let runs = self.map_parts(|(texts, layer), p| {
            let x = self.gather(x, self.whole.input, texts);
            let out = self.gather(out, hs, texts);
            let d_out = self.gather(d_out, hs, texts);
            let grads = layer.backward(&x, w, &out, &saved[p], &d_out, want_x);
            [x, out, d_out].into_iter().for_each(workspace::give);
            grads
        });
        let input = self.whole.input;
        let rows = self.whole.recurrence.time * self.batch();
        let mut d_x = want_x.then(|| workspace::take(rows * input));
        let mut runs = self.parts.iter().zip(runs);
        let (_, first) = runs.next().expect("a split has at least one part");
        let (mut d_w, mut d_bias) = (first.w, first.bias);
        if let (Some(d_x), Some(part)) = (d_x.as_mut(), first.x) {
            self.scatter(&part, d_x, input, &self.parts[0].0);
            workspace::give(part);
        }
        for ((texts, _), grads) in runs {
            add(&mut d_w, &grads.w);
            add(&mut d_bias, &grads.bias);
            if let (Some(d_x), Some(part)) = (d_x.as_mut(), grads.x) {
                self.scatter(&part, d_x, input, texts);
                workspace::give(part);
            }
        }
        Grads {
            x: d_x,
            w: d_w,
            bias: d_bias,
        }
    }

    /// `f` on every part (with its index), on threads of rayon's pool when there are several.
    fn map_parts<T: Send>(&self, f: impl Fn(&(Vec<usize>, Layer), usize) -> T + Sync) -> Vec<T> {
        if self.parts.len() == 1 {
            return vec![f(&self.parts[0], 0)];
        }
        let indexed = self.parts.par_iter().enumerate();
        indexed.map(|(p, part)| f(part, p)).collect()
    }

    fn batch(&self) -> usize {
        self.whole.recurrence.batch()
    }

    /// The rows of `texts` from a (time, batch, width) buffer, as (time, texts, width).
    fn gather(&self, src: &[f32], width: usize, texts: &[usize]) -> Vec<f32> {
        let mut part = workspace::take(self.whole.recurrence.time * texts.len() * width);
        if part.is_empty() {
            return part;
        }
        let steps = src.chunks_exact(self.batch() * width);
        for (step, rows) in steps.zip(part.chunks_exact_mut(texts.len() * width)) {
            for (&b, row) in texts.iter().zip(rows.chunks_exact_mut(width)) {
                row.copy_from_slice(&step[b * width..(b + 1) * width]);
            }
        }
        part
    }

    /// The inverse of [`gather`](Self::gather): a part's rows back into the batch's buffer.
    fn scatter(&self, part: &[f32], dst: &mut [f32], width: usize, texts: &[usize]) {
        if part.is_empty() {
            return;
        }
        let steps = dst.chunks_exact_mut(self.batch() * width);
        for (step, rows) in steps.zip(part.chunks_exact(texts.len() * width)) {
            for (&b, row) in texts.iter().zip(rows.chunks_exact(width)) {
                step[b * width..(b + 1) * width].copy_from_slice(row);
            }
        }
    }
}

fn add(sum: &mut [f32], part: &[f32]) {
    for (s, p) in sum.iter_mut().zip(part) {
        *s += p;
    }
}
