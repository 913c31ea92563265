//! The element-wise max of each text's states over its own steps, as one candle op with its own
//! backward.
//!
//! Built from candle ops, the masked max costs a mask, a `where_cond` and a strided reduction
//! over the time axis, and in backward autograd's comparisons, products and zero-filled gradient
//! buffers, each the size of every step's states: on long texts more time than the recurrence's
//! own bookkeeping. Here forward is one pass that keeps where each max came from, and backward
//! writes the gradient to those places.

use candle_core::{bail, CpuStorage, CustomOp1, Device, Layout, Result, Shape, Tensor};
use std::sync::Mutex;

/// states (time, batch, features) -> (batch, features): for each text, the max over steps
/// `0..len.max(1)` (an empty text reads its first step). CPU f32 only: see [`runs`].
pub fn max_over_steps(states: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    let op = MaxOverSteps {
        lengths: lengths.to_vec(),
        argmax: Mutex::new(None),
    };
    states.contiguous()?.apply_op1(op)
}

/// Whether [`max_over_steps`] takes `states`.
pub fn runs(states: &Tensor) -> bool {
    states.device().is_cpu() && states.dtype() == candle_core::DType::F32
}

struct MaxOverSteps {
    lengths: Vec<usize>,
    /// Forward's choice of step for every (text, feature), for backward.
    argmax: Mutex<Option<Vec<u32>>>,
}

impl MaxOverSteps {
    /// The max and the step it came from (the first, on ties) of every (text, feature).
    fn forward(&self, x: &[f32], time: usize, features: usize) -> (Vec<f32>, Vec<u32>) {
        let batch = self.lengths.len();
        let mut max = x[..batch * features].to_vec();
        let mut at = vec![0u32; batch * features];
        for t in 1..time {
            let row = &x[t * batch * features..(t + 1) * batch * features];
            for (b, &len) in self.lengths.iter().enumerate() {
                if t >= len {
                    continue;
                }
                let span = b * features..(b + 1) * features;
                let (m, a) = (&mut max[span.clone()], &mut at[span.clone()]);
                for ((m, a), &v) in m.iter_mut().zip(a.iter_mut()).zip(&row[span]) {
                    if v > *m {
                        *m = v;
                        *a = t as u32;
                    }
                }
            }
        }
        (max, at)
    }
}

impl CustomOp1 for MaxOverSteps {
    fn name(&self) -> &'static str {
        "max-over-steps"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (time, batch, features) = layout.shape().dims3()?;
        if batch != self.lengths.len() || time == 0 {
            bail!(
                "max over steps: {time} steps of {batch} texts for {} lengths",
                self.lengths.len()
            );
        }
        let x = match layout.contiguous_offsets() {
            Some((start, end)) => &storage.as_slice::<f32>()?[start..end],
            None => bail!("max over steps: expected a contiguous tensor"),
        };
        let (max, at) = self.forward(x, time, features);
        *self
            .argmax
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))? = Some(at);
        Ok((CpuStorage::F32(max), Shape::from((batch, features))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (time, batch, features) = arg.dims3()?;
        let guard = self
            .argmax
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))?;
        let Some(at) = guard.as_ref() else {
            bail!("max over steps: backward before forward")
        };
        let grad = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let mut d = vec![0f32; time * batch * features];
        for (i, (&t, &g)) in at.iter().zip(&grad).enumerate() {
            d[t as usize * batch * features + i] = g;
        }
        Ok(Some(Tensor::from_vec(
            d,
            (time, batch, features),
            &Device::Cpu,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Var, D};

    /// The masked max of candle ops, which the op replaces.
    fn reference(states: &Tensor, lengths: &[usize]) -> Result<Tensor> {
        let (time, batch, _) = states.dims3()?;
        let inside: Vec<u8> = (0..time)
            .flat_map(|t| lengths.iter().map(move |&len| u8::from(t < len.max(1))))
            .collect();
        let inside = Tensor::from_vec(inside, (time, batch, 1), states.device())?;
        let floor =
            Tensor::new(f32::NEG_INFINITY, states.device())?.broadcast_as(states.shape())?;
        inside
            .broadcast_as(states.shape())?
            .where_cond(states, &floor)?
            .max(0)
    }

    #[test]
    fn matches_the_masked_max_and_its_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let lengths = [5, 3, 0, 1];
        let (time, features) = (5, 6);
        // Distinct values, so that no max is tied and both gradients go to one step.
        let values: Vec<f32> = (0..time * lengths.len() * features)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let x = Var::from_vec(values, (time, lengths.len(), features), &dev)?;
        let weights = Tensor::arange(0f32, (lengths.len() * features) as f32, &dev)?
            .reshape((lengths.len(), features))?;

        let ours = max_over_steps(x.as_tensor(), &lengths)?;
        let theirs = reference(x.as_tensor(), &lengths)?;
        assert_eq!(ours.to_vec2::<f32>()?, theirs.to_vec2::<f32>()?);

        let d_ours = (ours * &weights)?.sum_all()?.backward()?;
        let d_theirs = (theirs * &weights)?.sum_all()?.backward()?;
        let (a, b) = (d_ours.get(&x).unwrap(), d_theirs.get(&x).unwrap());
        assert_eq!(
            a.flatten_all()?.to_vec1::<f32>()?,
            b.flatten_all()?.to_vec1::<f32>()?
        );
        // Steps past a text's end get nothing; the empty text's first step gets its gradient.
        let per_step = a.abs()?.sum(D::Minus1)?.to_vec2::<f32>()?;
        assert_eq!(per_step[3][1], 0.0);
        assert!(per_step[0][2] > 0.0 && per_step[1][2] == 0.0);
        Ok(())
    }
}
