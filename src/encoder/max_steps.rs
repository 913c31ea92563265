//! The element-wise max of each text's states over its own steps, as one candle op with its own
//! backward.
//!
//! Built from candle ops, the masked max costs a mask, a `where_cond` and a strided reduction
//! over the time axis, and in backward autograd's comparisons, products and zero-filled gradient
//! buffers, each the size of every step's states: on long texts more time than the recurrence's
//! own bookkeeping. Here forward is one pass, and backward one pass that writes the gradient
//! where the max came from. Where several steps hold the max (a state that repeated tokens have
//! driven to a fixed point), they share its gradient equally, as PyTorch's `amax` does, so the
//! twin and this op train alike.

use super::fused::{slice, with_slice};
use candle_core::{bail, CpuStorage, CustomOp1, Device, Layout, Result, Shape, Tensor};

/// states (time, batch, features) -> (batch, features): for each text, the max over steps
/// `0..len.max(1)` (an empty text reads its first step). CPU f32 only: see [`runs`].
pub fn max_over_steps(states: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    let op = MaxOverSteps {
        lengths: lengths.to_vec(),
    };
    states.contiguous()?.apply_op1(op)
}

/// Whether [`max_over_steps`] takes `states`.
pub fn runs(states: &Tensor) -> bool {
    states.device().is_cpu() && states.dtype() == candle_core::DType::F32
}

struct MaxOverSteps {
    lengths: Vec<usize>,
}

impl MaxOverSteps {
    /// Calls `f(t, b, rows)` for every step t of every text b, with rows[r] the r-th feature
    /// of x at (t, b); the first step of every text, empty or not, comes first.
    fn each_step<'a>(&self, x: &'a [f32], time: usize, mut f: impl FnMut(usize, usize, &'a [f32])) {
        let (batch, features) = (self.lengths.len(), x.len() / (time * self.lengths.len()));
        for t in 0..time {
            for (b, &len) in self.lengths.iter().enumerate() {
                if t < len.max(1) {
                    let at = (t * batch + b) * features;
                    f(t, b, &x[at..at + features]);
                }
            }
        }
    }
}

impl CustomOp1 for MaxOverSteps {
    fn name(&self) -> &'static str {
        "max-over-steps"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (time, batch, features) = layout.shape().dims3()?;
        if batch != self.lengths.len() || time == 0 {
            let n = self.lengths.len();
            bail!("max over steps: {time} steps of {batch} texts for {n} lengths");
        }
        let x = slice(storage, layout)?;
        let mut max = x[..batch * features].to_vec();
        self.each_step(x, time, |_, b, row| {
            for (m, &v) in max[b * features..(b + 1) * features].iter_mut().zip(row) {
                *m = m.max(v);
            }
        });
        Ok((CpuStorage::F32(max), Shape::from((batch, features))))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (time, batch, features) = arg.dims3()?;
        let (max, grad) = (host(res)?, host(grad)?);
        let d = with_slice(arg, |x| {
            let mut ties = vec![0u32; batch * features];
            self.each_step(x, time, |_, b, row| {
                let span = b * features..(b + 1) * features;
                for ((n, &m), &v) in ties[span.clone()].iter_mut().zip(&max[span]).zip(row) {
                    *n += u32::from(v == m);
                }
            });
            let mut d = vec![0f32; time * batch * features];
            self.each_step(x, time, |t, b, row| {
                let (at, span) = ((t * batch + b) * features, b * features..(b + 1) * features);
                let d = &mut d[at..at + features];
                for (((d, &v), &m), (&g, &n)) in (d.iter_mut().zip(row))
                    .zip(&max[span.clone()])
                    .zip(grad[span.clone()].iter().zip(&ties[span]))
                {
                    if v == m {
                        *d = if n == 1 { g } else { g / n as f32 };
                    }
                }
            });
            Ok(d)
        })?;
        Ok(Some(Tensor::from_vec(
            d,
            (time, batch, features),
            &Device::Cpu,
        )?))
    }
}

fn host(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
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

    #[test]
    fn tied_steps_share_the_gradient_as_pytorchs_amax_does() -> Result<()> {
        let dev = Device::Cpu;
        // One text of 3 steps and one feature: 2, 1, 2, then a padded step holding 2 again.
        let x = Var::from_vec(vec![2f32, 1.0, 2.0, 2.0], (4, 1, 1), &dev)?;
        let max = max_over_steps(x.as_tensor(), &[3])?;
        assert_eq!(max.to_vec2::<f32>()?, [[2.0]]);
        let grads = (max * 3.0)?.sum_all()?.backward()?;
        let d = grads.get(&x).unwrap().flatten_all()?.to_vec1::<f32>()?;
        assert_eq!(d, [1.5, 0.0, 1.5, 0.0]);
        Ok(())
    }
}
