//! Optimizer pieces that candle-nn lacks: a row-sparse AdamW for the embedding table and
//! global gradient-norm clipping.
//!
//! A batch touches a few hundred of the vocabulary's rows. A dense embedding gradient plus
//! AdamW over every row costs more than the recurrent network itself on short texts, so the
//! table lives here ([`SparseRows`]), and only the batch's rows are gathered, trained and
//! updated.

#[cfg(feature = "cuda")]
mod cuda;
mod rows;
mod step;

pub use rows::{RowValues, SparseRows};
use step::AdamWStep;

use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};
use candle_nn::ParamsAdamW;
use std::borrow::Cow;

/// A parameter's values after a step, where the optimizer has them: on the host for a
/// parameter on the CPU, as a tensor on its GPU otherwise (copying it down would make every
/// step wait for the GPU).
pub enum NewWeights<'a> {
    Host(&'a [f32]),
    Device(&'a Tensor),
}

/// Takes a parameter's name and its values after a step.
pub type SeenWeights<'a> = &'a mut dyn FnMut(&str, NewWeights) -> Result<()>;

/// A parameter's name with its first and second moments.
pub type Moments<'a> = (&'a str, Cow<'a, [f32]>, Cow<'a, [f32]>);

/// A parameter's first and second moments, kept where the parameter is.
enum Slot {
    /// On the host: a step copies the gradient and the weights here and the weights back, and
    /// updates them in one pass, the fastest way on a CPU.
    Host(Vec<f32>, Vec<f32>),
    /// On a GPU, beside the parameter, as one (2, elements) tensor, m then v: a step runs there
    /// as two kernels (`cuda`), with no copy to the host (each copy would wait for the GPU).
    Device(Tensor),
}

/// AdamW over named dense parameters, with its state in the open so checkpoints can hold it.
/// The update is candle-nn's AdamW, computed in one pass per parameter on the host, or by
/// kernels of its own for a parameter on a GPU.
pub struct DenseAdamW {
    params: ParamsAdamW,
    step: i32,
    /// (var, moments) in name order.
    slots: Vec<(String, Var, Slot)>,
    /// Per slot, the factor on the learning rate; 0 freezes the parameter (its moments stay
    /// as they are, as PyTorch leaves a parameter without a gradient).
    scales: Vec<f64>,
}

impl DenseAdamW {
    pub fn new(vars: &[(String, Var)], params: ParamsAdamW) -> Result<Self> {
        let slots = vars
            .iter()
            .map(|(name, var)| {
                let n = var.elem_count();
                let slot = match var.device().is_cpu() {
                    true => Slot::Host(vec![0.0; n], vec![0.0; n]),
                    false => Slot::Device(Tensor::zeros((2, n), DType::F32, var.device())?),
                };
                Ok((name.clone(), var.clone(), slot))
            })
            .collect::<Result<_>>()?;
        let scales = vec![1.0; vars.len()];
        Ok(Self {
            params,
            step: 0,
            slots,
            scales,
        })
    }

    /// The factor on the learning rate of each parameter, by name, for the steps to come; 0
    /// freezes it.
    pub fn set_scales(&mut self, scale: impl Fn(&str) -> f64) {
        for ((name, ..), s) in self.slots.iter().zip(&mut self.scales) {
            *s = scale(name);
        }
    }

    /// Whether the parameter `name` is trained in the steps to come.
    pub fn trains(&self, name: &str) -> bool {
        (self.slots.iter().zip(&self.scales)).any(|((n, ..), &s)| n == name && s > 0.0)
    }

    /// The learning rate of the steps to come (weight decay scales with it, as in PyTorch).
    pub fn set_lr(&mut self, lr: f64) {
        self.params.lr = lr;
    }

    /// One step; each gradient is multiplied by `scale` first (for clipping). With `seen`,
    /// every parameter's values after the step go to it by name, moved or not: the weights are
    /// already on the host here, so a moving average costs no second copy of them.
    pub fn step(
        &mut self,
        grads: &GradStore,
        scale: f64,
        mut seen: Option<SeenWeights>,
    ) -> Result<()> {
        self.step += 1;
        let step = AdamWStep::new(&self.params, self.step);
        for ((name, var, slot), &lr_scale) in self.slots.iter_mut().zip(&self.scales) {
            let Some(g) = grads.get(var.as_tensor()).filter(|_| lr_scale > 0.0) else {
                if let Some(seen) = seen.as_deref_mut() {
                    match slot {
                        Slot::Host(..) => {
                            let w = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                            seen(name, NewWeights::Host(&w))?;
                        }
                        Slot::Device(..) => seen(name, NewWeights::Device(var.as_tensor()))?,
                    }
                }
                continue;
            };
            let scaled;
            let step = if lr_scale == 1.0 {
                &step
            } else {
                let lr = self.params.lr * lr_scale;
                scaled = AdamWStep::new(
                    &ParamsAdamW {
                        lr,
                        ..self.params.clone()
                    },
                    self.step,
                );
                &scaled
            };
            match slot {
                Slot::Host(m, v) => {
                    let g = g.flatten_all()?.to_vec1::<f32>()?;
                    let mut w = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                    step.apply(&mut w, m, v, &g, scale as f32);
                    if let Some(seen) = seen.as_deref_mut() {
                        seen(name, NewWeights::Host(&w))?;
                    }
                    var.set(&Tensor::from_vec(w, var.shape(), var.device())?)?;
                }
                #[cfg(feature = "cuda")]
                Slot::Device(moments) => {
                    let w = var.as_tensor();
                    cuda::update_dense(w, moments, g, scale as f32, step)?;
                    if let Some(seen) = seen.as_deref_mut() {
                        seen(name, NewWeights::Device(w))?;
                    }
                }
                #[cfg(not(feature = "cuda"))]
                Slot::Device(_) => {
                    candle_core::bail!("a parameter on a GPU needs the `cuda` feature")
                }
            }
        }
        Ok(())
    }

    /// Moments by parameter name and the step count, for a checkpoint.
    pub fn state(&self) -> Result<(i32, Vec<Moments<'_>>)> {
        let host = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>().map(Cow::Owned);
        let slots = (self.slots.iter())
            .map(|(n, _, slot)| match slot {
                Slot::Host(m, v) => Ok((n.as_str(), Cow::from(&m[..]), Cow::from(&v[..]))),
                Slot::Device(moments) => {
                    Ok((n.as_str(), host(&moments.get(0)?)?, host(&moments.get(1)?)?))
                }
            })
            .collect::<Result<_>>()?;
        Ok((self.step, slots))
    }

    /// Restores what [`DenseAdamW::state`] gave; `moments` looks a parameter's (m, v) up by name.
    pub fn restore(
        &mut self,
        step: i32,
        moments: impl Fn(&str) -> Option<(Vec<f32>, Vec<f32>)>,
    ) -> std::result::Result<(), String> {
        for (name, var, slot) in &mut self.slots {
            let (nm, nv) =
                moments(name).ok_or_else(|| format!("no optimizer state for `{name}`"))?;
            let n = var.elem_count();
            if nm.len() != n || nv.len() != n {
                return Err(format!("optimizer state for `{name}` has the wrong size"));
            }
            *slot = match slot {
                Slot::Host(..) => Slot::Host(nm, nv),
                Slot::Device(_) => {
                    let moments = Tensor::from_vec([nm, nv].concat(), (2, n), var.device())
                        .map_err(|e| format!("optimizer state for `{name}`: {e}"))?;
                    Slot::Device(moments)
                }
            };
        }
        self.step = step;
        Ok(())
    }
}

/// A step's loss and the global L2 norm of its gradients, read together: on a GPU a read waits
/// for everything queued before it, so a step reads once, after its backward.
pub fn loss_and_norm<'a>(
    loss: &Tensor,
    grads: impl IntoIterator<Item = &'a Tensor>,
) -> Result<(f64, f64)> {
    let squares = (grads.into_iter())
        .map(|g| g.sqr()?.sum_all()?.to_dtype(DType::F64))
        .collect::<Result<Vec<_>>>()?;
    let total = match squares.is_empty() {
        true => Tensor::zeros((), DType::F64, loss.device())?,
        false => Tensor::stack(&squares, 0)?.sum_all()?,
    };
    let loss = loss.to_dtype(DType::F64)?.reshape(())?;
    let both = Tensor::stack(&[loss, total], 0)?.to_vec1::<f64>()?;
    Ok((both[0], both[1].sqrt()))
}

/// The factor that brings a gradient of norm `norm` down to `max_norm` (1 when already below,
/// or when clipping is off).
pub fn clip_factor(norm: f64, max_norm: f64) -> f64 {
    if max_norm > 0.0 && norm > max_norm {
        max_norm / (norm + 1e-6)
    } else {
        1.0
    }
}

/// Sorted distinct ids of a batch, and the batch rewritten to index into them.
pub fn compact_ids(sequences: &[Vec<u32>]) -> (Vec<u32>, Vec<Vec<u32>>) {
    let mut unique: Vec<u32> = sequences.iter().flatten().copied().collect();
    unique.sort_unstable();
    unique.dedup();
    let local = sequences
        .iter()
        .map(|s| {
            s.iter()
                .map(|id| unique.binary_search(id).expect("id is in the batch") as u32)
                .collect()
        })
        .collect();
    (unique, local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::{AdamW, Optimizer};

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn the_loss_and_the_norm_of_all_gradients_together() -> Result<()> {
        let cpu = Device::Cpu;
        let loss = Tensor::new(0.25f32, &cpu)?;
        let grads = [
            Tensor::new(&[3f32, 0.0], &cpu)?,
            Tensor::new(&[[4f32]], &cpu)?,
        ];
        assert_eq!(loss_and_norm(&loss, &grads)?, (0.25, 5.0));
        assert_eq!(loss_and_norm(&loss, &[])?, (0.25, 0.0));
        let nan = Tensor::new(f32::NAN, &cpu)?;
        assert!(loss_and_norm(&nan, &grads)?.0.is_nan());
        Ok(())
    }

    /// The settings every test here compares under: a learning rate and a weight decay large
    /// enough that a wrong term shows in five steps.
    fn params() -> ParamsAdamW {
        ParamsAdamW {
            lr: 0.01,
            weight_decay: 0.1,
            ..ParamsAdamW::default()
        }
    }

    fn assert_close(x: &[f32], y: &[f32]) {
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(y) {
            assert!((p - q).abs() < 1e-6, "{x:?} vs {y:?}");
        }
    }

    /// With every row in every batch, the lazy update must equal candle's dense AdamW.
    #[test]
    fn sparse_rows_match_dense_adamw_when_all_rows_are_touched() {
        let dev = Device::Cpu;
        let params = params();
        let init: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut sparse = SparseRows::new(init.clone(), 3, params.clone());
        let var = Var::from_tensor(&Tensor::from_vec(init, (4, 3), &dev).unwrap()).unwrap();
        let mut dense = AdamW::new(vec![var.clone()], params).unwrap();
        for step in 0..5 {
            let target = Tensor::new(step as f32, &dev).unwrap();
            let loss = var
                .as_tensor()
                .broadcast_sub(&target)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = loss.backward().unwrap();
            let g = grads.get(var.as_tensor()).unwrap().clone();
            sparse.update(&[0, 1, 2, 3], &g, 1.0).unwrap();
            dense.step(&grads).unwrap();
        }
        assert_close(
            &values(&sparse.to_tensor(&dev).unwrap()),
            &values(var.as_tensor()),
        );
    }

    #[test]
    fn dense_adamw_matches_candle_adamw() {
        let dev = Device::Cpu;
        let params = params();
        let init = Tensor::new(&[[0.3f32, -1.2], [2.0, 0.5]], &dev).unwrap();
        let a = Var::from_tensor(&init).unwrap();
        let b = Var::from_tensor(&init).unwrap();
        let mut ours = DenseAdamW::new(&[("w".to_string(), a.clone())], params.clone()).unwrap();
        let mut theirs = AdamW::new(vec![b.clone()], params).unwrap();
        let square_sum_grads = |v: &Var| v.as_tensor().sqr().unwrap().sum_all().unwrap().backward();
        for _ in 0..5 {
            ours.step(&square_sum_grads(&a).unwrap(), 1.0, None)
                .unwrap();
            theirs.step(&square_sum_grads(&b).unwrap()).unwrap();
        }
        assert_close(&values(a.as_tensor()), &values(b.as_tensor()));
    }

    /// On a GPU the dense step (two kernels) is the host's, at a clipping scale, and its
    /// moments go through a checkpoint's state and back. Needs a GPU; says it is skipped where
    /// there is none.
    #[cfg(feature = "cuda")]
    #[test]
    fn dense_adamw_on_a_gpu_follows_the_host() -> Result<()> {
        let Some(gpu) = crate::device::test_gpu(module_path!()) else {
            return Ok(());
        };
        let init: Vec<f32> = (0..15).map(|i| (i as f32 * 0.61).sin()).collect();
        let on = |dev: &Device| {
            let var = Var::from_tensor(&Tensor::from_vec(init.clone(), (5, 3), dev)?)?;
            let adam = DenseAdamW::new(&[("w".to_string(), var.clone())], params())?;
            Ok::<_, candle_core::Error>((var, adam))
        };
        let ((host, mut host_adam), (device, mut device_adam)) = (on(&Device::Cpu)?, on(&gpu)?);
        // The GPU may fuse a multiply and an add where the host rounds twice.
        let near = |x: &[f32], y: &[f32]| {
            assert_eq!(x.len(), y.len());
            let d = x
                .iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f32::max);
            assert!(d < 1e-5, "{x:?} vs {y:?}");
        };
        let cubed_sum_grads = |v: &Var| {
            (v.as_tensor().sqr()? * v.as_tensor())?
                .sum_all()?
                .backward()
        };
        for step in 0..4 {
            host_adam.step(&cubed_sum_grads(&host)?, 0.7, None)?;
            device_adam.step(&cubed_sum_grads(&device)?, 0.7, None)?;
            if step == 1 {
                let (n, moments) = device_adam.state()?;
                let kept: Vec<_> = (moments.iter())
                    .map(|(_, m, v)| (m.to_vec(), v.to_vec()))
                    .collect();
                let (_, host_moments) = host_adam.state()?;
                near(&kept[0].0, &host_moments[0].1);
                near(&kept[0].1, &host_moments[0].2);
                device_adam.restore(n, |_| Some(kept[0].clone())).unwrap();
            }
        }
        near(&values(host.as_tensor()), &values(device.as_tensor()));
        Ok(())
    }

    /// A parameter scaled by s learns as candle's AdamW at lr x s; one scaled by 0 stays put
    /// and keeps its moments.
    #[test]
    fn per_parameter_scales_set_the_learning_rate_or_freeze() {
        let dev = Device::Cpu;
        let params = params();
        let init = Tensor::new(&[[0.3f32, -1.2], [2.0, 0.5]], &dev).unwrap();
        let (a, frozen) = (
            Var::from_tensor(&init).unwrap(),
            Var::from_tensor(&init).unwrap(),
        );
        let b = Var::from_tensor(&init).unwrap();
        let named = [
            ("a".to_string(), a.clone()),
            ("f".to_string(), frozen.clone()),
        ];
        let mut ours = DenseAdamW::new(&named, params.clone()).unwrap();
        ours.set_scales(|name| if name == "a" { 0.25 } else { 0.0 });
        assert!(ours.trains("a") && !ours.trains("f"));
        let quarter = ParamsAdamW {
            lr: 0.0025,
            ..params
        };
        let mut theirs = AdamW::new(vec![b.clone()], quarter).unwrap();
        for _ in 0..5 {
            let loss = (a.as_tensor().sqr().unwrap().sum_all().unwrap()
                + frozen.as_tensor().sqr().unwrap().sum_all().unwrap())
            .unwrap();
            ours.step(&loss.backward().unwrap(), 1.0, None).unwrap();
            let grads = b.as_tensor().sqr().unwrap().sum_all().unwrap().backward();
            theirs.step(&grads.unwrap()).unwrap();
        }
        assert_close(&values(a.as_tensor()), &values(b.as_tensor()));
        assert_eq!(values(frozen.as_tensor()), values(&init));
        let (_, moments) = ours.state().unwrap();
        assert!(moments[1].1.iter().all(|&m| m == 0.0));
    }

    /// What a moving average of the weights reads: every parameter after the step, the frozen
    /// one too, with the values its Var holds.
    #[test]
    fn a_step_shows_every_parameter_after_it_moved_or_frozen() {
        let init = Tensor::new(&[[0.3f32, -1.2], [2.0, 0.5]], &Device::Cpu).unwrap();
        let (a, frozen) = (
            Var::from_tensor(&init).unwrap(),
            Var::from_tensor(&init).unwrap(),
        );
        let named = [
            ("a".to_string(), a.clone()),
            ("f".to_string(), frozen.clone()),
        ];
        let mut ours = DenseAdamW::new(&named, ParamsAdamW::default()).unwrap();
        ours.set_scales(|name| if name == "a" { 1.0 } else { 0.0 });
        let loss = (a.as_tensor().sqr().unwrap().sum_all().unwrap()
            + frozen.as_tensor().sqr().unwrap().sum_all().unwrap())
        .unwrap();
        let mut shown = Vec::new();
        let mut seen = |name: &str, w: NewWeights| {
            let NewWeights::Host(w) = w else {
                panic!("a CPU parameter's values come on the host")
            };
            shown.push((name.to_string(), w.to_vec()));
            Ok(())
        };
        let grads = loss.backward().unwrap();
        ours.step(&grads, 1.0, Some(&mut seen)).unwrap();
        let want = [
            ("a".to_string(), values(a.as_tensor())),
            ("f".to_string(), values(&init)),
        ];
        assert_eq!(shown, want);
        assert_ne!(values(a.as_tensor()), values(&init), "a moved");
    }

    #[test]
    fn compact_ids_rewrites_batches() {
        let (u, local) = compact_ids(&[vec![7, 3, 7], vec![], vec![3, 9]]);
        assert_eq!(u, vec![3, 7, 9]);
        assert_eq!(local, vec![vec![1, 0, 1], vec![], vec![0, 2]]);
    }
}
