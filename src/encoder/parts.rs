//! A layer's batch split across threads. Texts never meet in the recurrence, so each part of
//! the batch runs the whole layer (input products, every step, backward) on its own thread with
//! no synchronization per step; only the weight and bias gradients are added up at the end.
//!
//! Each part holds its texts longest first, so that the recurrence can shrink each step's product
//! to the texts still running, and parts take every k-th text of that order, so that each thread
//! gets the same amount of work. A text's forward values do not depend on the split; the weight
//! gradients are sums over the parts in part order, so they repeat exactly for a given number of
//! threads and differ only in rounding between thread counts.

use super::layer::{Grads, Layer, Prepared, Source};
use super::projection::{Lookup, Words};
use super::recurrence::Saved;
use super::workspace;
use rayon::prelude::*;
use std::cmp::Reverse;

/// Below this many texts per part, a step's product is too small for a thread to pay off.
const MIN_PART_TEXTS: usize = 8;

/// Which states a layer call hands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum States {
    /// Every step's h, (time, batch, hidden): the input of the layer above.
    EveryStep,
    /// Each text's final h, (batch, hidden): all that the last layer's caller reads. The other
    /// steps stay here for backward, and no (time, batch, hidden) tensor or gradient is made.
    Final,
}

/// What forward keeps of one part for backward.
pub struct PartRun {
    saved: Saved,
    /// The part's h at every step, kept with [`States::Final`] (with [`States::EveryStep`]
    /// backward reads them from the op's output).
    out: Option<Vec<f32>>,
}

impl Drop for PartRun {
    fn drop(&mut self) {
        if let Some(out) = self.out.take() {
            workspace::give(out);
        }
    }
}

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

    /// [`Layer::forward`] over the batch with `weights` from [`Layer::prepare`]: the states
    /// `states` asks for, and with `save` what backward needs, one [`PartRun`] per part.
    pub fn forward(
        &self,
        x: Source,
        weights: &Prepared,
        save: bool,
        states: States,
    ) -> (Vec<f32>, Vec<PartRun>) {
        let p = &self.whole.recurrence;
        let (hs, state) = (p.hidden, self.batch() * p.hidden);
        let last = p.time.saturating_sub(1);
        let keep = |out: Vec<f32>| {
            if save && states == States::Final {
                return Some(out);
            }
            workspace::give(out);
            None
        };
        if self.parts.is_empty() {
            let (out, saved) = self.whole.forward(x, weights, save);
            return match states {
                States::EveryStep => (out, vec![PartRun { saved, out: None }]),
                States::Final => {
                    let result = out[last * state..].to_vec();
                    let run = PartRun {
                        saved,
                        out: keep(out),
                    };
                    (result, vec![run])
                }
            };
        }
        let runs = self.map_parts(|(texts, layer), _| match x {
            Source::Values(x) => {
                let x = self.gather(x, self.whole.input, texts);
                let run = layer.forward(Source::Values(&x), weights, save);
                workspace::give(x);
                run
            }
            Source::Words(words) => {
                let part = |ids: &[u32]| {
                    let mut part = vec![0; self.whole.recurrence.time * texts.len()];
                    self.gather_into(ids, 1, texts, &mut part);
                    part
                };
                let ids = part(words.words.ids);
                let buckets = words.ngrams.map(|n| part(n.ids));
                let words = Words {
                    words: Lookup {
                        ids: &ids,
                        ..words.words
                    },
                    ngrams: (words.ngrams.zip(buckets.as_deref()))
                        .map(|(n, ids)| Lookup { ids, ..n }),
                    ..words
                };
                layer.forward(Source::Words(words), weights, save)
            }
        });
        // The parts' rows together are all of it.
        let mut result = match states {
            States::EveryStep => workspace::take(p.time * state),
            States::Final => vec![0.0; state],
        };
        let mut kept = Vec::with_capacity(runs.len());
        for ((texts, _), (part_out, saved)) in self.parts.iter().zip(runs) {
            match states {
                States::EveryStep => self.scatter(&part_out, &mut result, hs, texts),
                States::Final => {
                    let part_last = &part_out[last * texts.len() * hs..];
                    self.scatter(part_last, &mut result, hs, texts);
                }
            }
            kept.push(PartRun {
                saved,
                out: keep(part_out),
            });
        }
        (result, kept)
    }

    /// [`Layer::backward`] over the batch, from the `runs` that [`forward`](Self::forward)
    /// kept and `d_out`, the gradient of what it returned (`out`, which backward reads when the
    /// states asked for were every step's).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[f32],
        w: &[f32],
        out: &[f32],
        runs: &[PartRun],
        d_out: &[f32],
        states: States,
        want_x: bool,
    ) -> Grads {
        let hs = self.whole.recurrence.hidden;
        if self.parts.is_empty() {
            let run = &runs[0];
            return match (states, run.out.as_deref()) {
                (States::Final, Some(out)) => {
                    let texts: Vec<usize> = (0..self.batch()).collect();
                    let d_steps = self.final_grads(d_out, &texts);
                    let grads = self.whole.backward(x, w, out, &run.saved, &d_steps, want_x);
                    workspace::give(d_steps);
                    grads
                }
                _ => self.whole.backward(x, w, out, &run.saved, d_out, want_x),
            };
        }
        let runs = self.map_parts(|(texts, layer), p| {
            let x = self.gather(x, self.whole.input, texts);
            let (gathered, d_steps) = match states {
                States::EveryStep => (self.gather(out, hs, texts), self.gather(d_out, hs, texts)),
                States::Final => (Vec::new(), self.final_grads(d_out, texts)),
            };
            let out = runs[p].out.as_deref().unwrap_or(&gathered);
            let grads = layer.backward(&x, w, out, &runs[p].saved, &d_steps, want_x);
            [x, gathered, d_steps].into_iter().for_each(workspace::give);
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

    /// The gradient of every step's state, (time, texts, hidden), from that of the final states
    /// (batch, hidden) alone: zero but at the last step, which carries each text's final state.
    fn final_grads(&self, d_final: &[f32], texts: &[usize]) -> Vec<f32> {
        let p = &self.whole.recurrence;
        let (hs, state) = (p.hidden, texts.len() * p.hidden);
        let mut d = workspace::take(p.time * state);
        let (earlier, last) = d.split_at_mut(p.time.saturating_sub(1) * state);
        earlier.fill(0.0);
        for (&b, row) in texts.iter().zip(last.chunks_exact_mut(hs)) {
            row.copy_from_slice(&d_final[b * hs..(b + 1) * hs]);
        }
        d
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
        self.gather_into(src, width, texts, &mut part);
        part
    }

    /// [`gather`](Self::gather) into `part`, of any element type.
    fn gather_into<T: Copy>(&self, src: &[T], width: usize, texts: &[usize], part: &mut [T]) {
        if part.is_empty() {
            return;
        }
        let steps = src.chunks_exact(self.batch() * width);
        for (step, rows) in steps.zip(part.chunks_exact_mut(texts.len() * width)) {
            for (&b, row) in texts.iter().zip(rows.chunks_exact_mut(width)) {
                row.copy_from_slice(&step[b * width..(b + 1) * width]);
            }
        }
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
