//! The output layer over the vocabulary: a sampled softmax for training, the exact one for
//! perplexity.
//!
//! A softmax over a 30k-word vocabulary at every step of every window would cost far more than
//! the recurrent network. Training scores each prediction against its own target and `K` words
//! drawn once per batch from the unigram distribution raised to 0.75 (shared by every
//! prediction of the batch, so their scores are one matrix product), and subtracts from each
//! score the log of the word's expected count among the draws, log(K q(w)): the correction
//! that makes the sampled softmax estimate the full one (Jean et al. 2015). A drawn word that
//! is a prediction's own target is left out of that prediction's sum.
//!
//! The part over the (predictions x K) scores (corrections, log-sum-exp, and in backward the
//! gradient) runs as one custom op across rayon's threads: done with candle ops it would pass
//! over that matrix a dozen times, one thread each.

use crate::encoder::{exp, simd, with_slice};
use crate::word2vec::sampling::{Noise, Rng};
use candle_core::{bail, CpuStorage, CustomOp3, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;

/// Draws the shared negative words and knows each word's log expected count.
pub(super) struct Sampler {
    noise: Noise,
    /// ln q(w) of each id.
    log_q: Vec<f32>,
}

impl Sampler {
    /// Over ids occurring `counts` times. Ids that never occur are never drawn.
    pub fn new(counts: &[u64]) -> Self {
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
        let total: f64 = weights.iter().sum();
        let log_q = weights
            .iter()
            // An id never drawn never needs a correction; keep the number finite all the same.
            .map(|&w| (w.max(1e-12) / total).ln() as f32)
            .collect();
        Self {
            noise: Noise::new(counts),
            log_q,
        }
    }

    /// `k` ids, drawn with replacement.
    pub fn draw(&self, k: usize, rng: &mut Rng) -> Vec<u32> {
        (0..k).map(|_| self.noise.sample(rng)).collect()
    }

    /// ln(k q(w)) for each id of `ids`: its expected count among `k` draws.
    fn log_expected(&self, ids: &[u32], k: usize) -> Vec<f32> {
        let ln_k = (k as f32).ln();
        ids.iter().map(|&i| self.log_q[i as usize] + ln_k).collect()
    }
}

/// The mean sampled-softmax loss of predictions `z` (n, dim) whose targets are rows
/// `targets_local` of `rows` (their ids in the vocabulary `targets`), against the negative
/// words `negatives` (rows `negatives_local`), with `bias` (vocab) the output layer's bias.
pub(super) struct Scoring<'a> {
    pub rows: &'a Tensor,
    pub bias: &'a Tensor,
    pub sampler: &'a Sampler,
    pub negatives: &'a [u32],
    pub negatives_local: &'a [u32],
}

impl Scoring<'_> {
    pub fn loss(&self, z: &Tensor, targets: &[u32], targets_local: &[u32]) -> Result<Tensor> {
        let device = z.device();
        let index = |ids: &[u32]| Tensor::new(ids, device);
        let target_rows = self.rows.index_select(&index(targets_local)?, 0)?;
        let target_bias = self.bias.index_select(&index(targets)?, 0)?;
        let true_scores = (z * target_rows)?.sum(1)?.add(&target_bias)?; // (n)
        let negative_rows = self.rows.index_select(&index(self.negatives_local)?, 0)?;
        let scores = z.matmul(&negative_rows.t()?)?; // (n, k)
        let negative_bias = self.bias.index_select(&index(self.negatives)?, 0)?;
        let k = self.negatives.len();
        let op = SampledLoss {
            log_true: self.sampler.log_expected(targets, k),
            log_negative: self.sampler.log_expected(self.negatives, k),
            hits: hits(targets, self.negatives),
            lse: Mutex::new(Vec::new()),
        };
        true_scores
            .contiguous()?
            .apply_op3(&scores.contiguous()?, &negative_bias.contiguous()?, op)?
            .mean_all()
    }
}

/// The summed negative log-likelihood of targets `targets` under the full softmax of `z`
/// (n, dim) against every row of `table` (vocab, dim) plus `bias`: for perplexity.
pub(super) fn exact_nll(z: &Tensor, table: &Tensor, bias: &Tensor, targets: &[u32]) -> Result<f64> {
    const CHUNK: usize = 512;
    let mut total = 0.0f64;
    for (c, ids) in targets.chunks(CHUNK).enumerate() {
        let part = z.narrow(0, c * CHUNK, ids.len())?;
        let logits = part.matmul(&table.t()?)?.broadcast_add(bias)?;
        let log_p = candle_nn::ops::log_softmax(&logits, 1)?;
        let ids = Tensor::new(ids, z.device())?.unsqueeze(1)?;
        let picked = log_p.gather(&ids, 1)?.sum_all()?.to_scalar::<f32>()?;
        total -= f64::from(picked);
    }
    Ok(total)
}

/// For each prediction whose target is among `negatives`, the positions it holds there.
fn hits(targets: &[u32], negatives: &[u32]) -> HashMap<usize, Vec<usize>> {
    let mut at: HashMap<u32, Vec<usize>> = HashMap::new();
    for (k, &id) in negatives.iter().enumerate() {
        at.entry(id).or_default().push(k);
    }
    (targets.iter().enumerate())
        .filter_map(|(n, id)| Some((n, at.get(id)?.clone())))
        .collect()
}

/// Rows of the score matrix per parallel task: a few hundred kilobytes of scores.
const ROWS_PER_TASK: usize = 64;
/// Partial sums kept side by side over a row, so that its reductions vectorize: a float sum in
/// one accumulator must be added in order, one element at a time.
const LANES: usize = 16;
/// Below this log-probability (e^-60, 1e-26) a negative word's gradient is taken as 0.
const MIN_LOG_PROB: f32 = -60.0;

/// Per prediction: -log softmax of its corrected true score among its corrected scores, on
/// (true scores (n), negative scores (n, k), negative bias (k)).
struct SampledLoss {
    /// ln(k q) of each prediction's target, and of each negative.
    log_true: Vec<f32>,
    log_negative: Vec<f32>,
    hits: HashMap<usize, Vec<usize>>,
    /// Each prediction's log-sum-exp, kept by forward for backward.
    lse: Mutex<Vec<f32>>,
}

impl SampledLoss {
    /// Row `n`'s corrected negative scores into `out`, hits at -inf; its corrected true score.
    #[inline(always)]
    fn row(&self, n: usize, true_score: f32, scores: &[f32], bias: &[f32], out: &mut [f32]) -> f32 {
        for (((o, s), b), l) in out.iter_mut().zip(scores).zip(bias).zip(&self.log_negative) {
            *o = s + b - l;
        }
        if let Some(ks) = self.hits.get(&n) {
            ks.iter().for_each(|&k| out[k] = f32::NEG_INFINITY);
        }
        true_score - self.log_true[n]
    }
}

/// log(exp(first) + sum exp(rest)). A -inf in `rest` adds e^-87, nothing next to the rest.
#[inline(always)]
fn log_sum_exp(first: f32, rest: &[f32]) -> f32 {
    let chunks = rest.chunks_exact(LANES);
    let tail = chunks.remainder();
    let mut lanes = [f32::NEG_INFINITY; LANES];
    for c in chunks.clone() {
        lanes.iter_mut().zip(c).for_each(|(m, &x)| *m = m.max(x));
    }
    let max = lanes.iter().chain(tail).copied().fold(first, f32::max);
    let mut sums = [0f32; LANES];
    for c in chunks {
        sums.iter_mut()
            .zip(c)
            .for_each(|(s, &x)| *s += exp(x - max));
    }
    let tail_sum: f32 = tail.iter().map(|&x| exp(x - max)).sum();
    max + (sums.iter().sum::<f32>() + tail_sum + exp(first - max)).ln()
}

/// What both passes read: the op and its three inputs, whole.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    op: &'a SampledLoss,
    truth: &'a [f32],
    scores: &'a [f32],
    bias: &'a [f32],
}

impl Inputs<'_> {
    /// Row `r`'s corrected negative scores into `out`; its corrected true score.
    #[inline(always)]
    fn row(&self, r: usize, out: &mut [f32]) -> f32 {
        let k = self.bias.len();
        let scores = &self.scores[r * k..(r + 1) * k];
        (self.op).row(r, self.truth[r], scores, self.bias, out)
    }
}

/// The forward pass over one task's rows (from `first`), as a job for [`simd::run`].
struct Forward<'a> {
    inputs: Inputs<'a>,
    first: usize,
    loss: &'a mut [f32],
    lse: &'a mut [f32],
}

impl simd::Job for Forward<'_> {
    type Output = ();
    const AVX512: bool = true;

    #[inline(always)]
    fn run(self) {
        let mut row = vec![0f32; self.inputs.bias.len()];
        for (i, (l, e)) in self.loss.iter_mut().zip(self.lse.iter_mut()).enumerate() {
            let own = self.inputs.row(self.first + i, &mut row);
            *e = log_sum_exp(own, &row);
            *l = *e - own;
        }
    }
}

/// The backward pass over one task's rows, from the loss gradient `grad` and forward's `lse`;
/// gives the column sums of their score gradients.
struct Backward<'a> {
    inputs: Inputs<'a>,
    first: usize,
    grad: &'a [f32],
    lse: &'a [f32],
    d_truth: &'a mut [f32],
    d_scores: &'a mut [f32],
}

impl simd::Job for Backward<'_> {
    type Output = Vec<f32>;
    const AVX512: bool = true;

    #[inline(always)]
    fn run(self) -> Vec<f32> {
        let k = self.inputs.bias.len();
        let mut sums = vec![0f32; k];
        let rows = self.d_truth.iter_mut().zip(self.d_scores.chunks_mut(k));
        for (i, (dt, ds)) in rows.enumerate() {
            let r = self.first + i;
            let own = self.inputs.row(r, ds);
            let (g, e) = (self.grad[r], self.lse[r]);
            *dt = g * (exp(own - e) - 1.0);
            for (d, s) in ds.iter_mut().zip(&mut sums) {
                // Exactly 0 for hits (at -inf) and for words far below the row's total: `exp`
                // clamps at e^-87, whose product with g is subnormal, and subnormal inputs slow
                // the two matrix products that read this gradient severalfold.
                let v = *d - e;
                *d = if v < MIN_LOG_PROB { 0.0 } else { g * exp(v) };
                *s += *d;
            }
        }
        sums
    }
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s.as_slice::<f32>()?[a..b]),
        None => bail!("sampled softmax: expected a contiguous tensor"),
    }
}

impl CustomOp3 for SampledLoss {
    fn name(&self) -> &'static str {
        "sampled-softmax"
    }

    fn cpu_fwd(
        &self,
        t: &CpuStorage,
        tl: &Layout,
        s: &CpuStorage,
        sl: &Layout,
        b: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (truth, scores, bias) = (contiguous(t, tl)?, contiguous(s, sl)?, contiguous(b, bl)?);
        let (n, k) = sl.shape().dims2()?;
        if truth.len() != n || bias.len() != k || self.log_negative.len() != k {
            bail!("sampled softmax: {n} predictions and {k} negatives do not fit the inputs");
        }
        let mut loss = vec![0f32; n];
        let mut lse = vec![0f32; n];
        (loss.par_chunks_mut(ROWS_PER_TASK))
            .zip(lse.par_chunks_mut(ROWS_PER_TASK))
            .enumerate()
            .for_each(|(task, (loss, lse))| {
                let inputs = Inputs {
                    op: self,
                    truth,
                    scores,
                    bias,
                };
                let first = task * ROWS_PER_TASK;
                simd::run(Forward {
                    inputs,
                    first,
                    loss,
                    lse,
                })
            });
        *self
            .lse
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned lock".into()))? = lse;
        Ok((CpuStorage::F32(loss), Shape::from(n)))
    }

    fn bwd(
        &self,
        truth: &Tensor,
        scores: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, k) = scores.dims2()?;
        let (truth, bias) = (truth.to_vec1::<f32>()?, bias.to_vec1::<f32>()?);
        let grad = grad.to_vec1::<f32>()?;
        let lse = self
            .lse
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned lock".into()))?;
        if lse.len() != n {
            bail!("sampled softmax: backward without forward");
        }
        let mut d_truth = vec![0f32; n];
        let mut d_scores = vec![0f32; n * k];
        // Each task's column sums of its rows' gradients, added up in task order afterwards so
        // that the bias gradient does not depend on scheduling. The scores are read in place:
        // the (n, k) matrix is the largest thing a step holds.
        let partial: Vec<Vec<f32>> = with_slice(scores, |scores| {
            Ok((d_truth.par_chunks_mut(ROWS_PER_TASK))
                .zip(d_scores.par_chunks_mut(ROWS_PER_TASK * k))
                .enumerate()
                .map(|(task, (d_truth, d_scores))| {
                    let inputs = Inputs {
                        op: self,
                        truth: &truth,
                        scores,
                        bias: &bias,
                    };
                    simd::run(Backward {
                        inputs,
                        first: task * ROWS_PER_TASK,
                        grad: &grad,
                        lse: &lse,
                        d_truth,
                        d_scores,
                    })
                })
                .collect())
        })?;
        let mut d_bias = vec![0f32; k];
        for sums in &partial {
            d_bias.iter_mut().zip(sums).for_each(|(d, s)| *d += s);
        }
        let dev = Device::Cpu;
        Ok((
            Some(Tensor::from_vec(d_truth, n, &dev)?),
            Some(Tensor::from_vec(d_scores, (n, k), &dev)?),
            Some(Tensor::from_vec(d_bias, k, &dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The op's loss and gradients match the same math in plain candle ops.
    #[test]
    fn the_fused_loss_matches_candle_ops() {
        let dev = Device::Cpu;
        // k spans two of the lanes' chunks and a tail.
        let (n, k) = (70, 37);
        let vals = |len: usize, seed: f32| -> Vec<f32> {
            (0..len)
                .map(|i| ((i as f32 + seed) * 0.713).sin())
                .collect()
        };
        let truth = candle_core::Var::from_vec(vals(n, 1.0), n, &dev).unwrap();
        let scores = candle_core::Var::from_vec(vals(n * k, 2.0), (n, k), &dev).unwrap();
        let bias = candle_core::Var::from_vec(vals(k, 3.0), k, &dev).unwrap();
        let (targets, negatives) = (
            (0..n as u32).map(|i| i % 9).collect::<Vec<_>>(),
            (0..k as u32).map(|i| (i * 5 + 3) % 12).collect::<Vec<_>>(),
        );
        let counts: Vec<u64> = (0..12).map(|i| 1 + i * 3).collect();
        let sampler = Sampler::new(&counts);
        let op = SampledLoss {
            log_true: sampler.log_expected(&targets, k),
            log_negative: sampler.log_expected(&negatives, k),
            hits: hits(&targets, &negatives),
            lse: Mutex::new(Vec::new()),
        };
        let fused = truth
            .apply_op3(&scores, &bias, op)
            .unwrap()
            .mean_all()
            .unwrap();

        // The reference: corrected scores, hits masked, cross-entropy on column 0.
        let lt = Tensor::new(sampler.log_expected(&targets, k), &dev).unwrap();
        let ln = Tensor::new(sampler.log_expected(&negatives, k), &dev).unwrap();
        let mask: Vec<f32> = (0..n * k)
            .map(|i| {
                if targets[i / k] == negatives[i % k] {
                    -1e30
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (n, k), &dev).unwrap();
        let own = (truth.as_tensor() - lt).unwrap().unsqueeze(1).unwrap();
        let neg = scores
            .as_tensor()
            .broadcast_add(&(bias.as_tensor() - ln).unwrap())
            .unwrap()
            .add(&mask)
            .unwrap();
        let all = Tensor::cat(&[own, neg], 1).unwrap();
        let zeros = Tensor::zeros(n, candle_core::DType::U32, &dev).unwrap();
        let reference = candle_nn::loss::cross_entropy(&all, &zeros).unwrap();

        let close = |a: &Tensor, b: &Tensor| {
            let (a, b) = (
                a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                b.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            );
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
        };
        close(&fused, &reference);
        let (gf, gr) = (fused.backward().unwrap(), reference.backward().unwrap());
        for v in [&truth, &scores, &bias] {
            close(
                gf.get(v.as_tensor()).unwrap(),
                gr.get(v.as_tensor()).unwrap(),
            );
        }
    }
}
