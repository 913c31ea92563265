//! Optimizer pieces that candle-nn lacks: a row-sparse AdamW for the embedding table and
//! global gradient-norm clipping.
//!
//! A batch touches a few hundred of the vocabulary's rows. A dense embedding gradient plus
//! AdamW over every row costs more than the recurrent network itself on short texts, so the
//! table lives here, on the host, and only the batch's rows are gathered, trained and updated.

use candle_core::{Device, Result, Tensor};
use candle_nn::ParamsAdamW;

/// The embedding table with lazy AdamW state, as PyTorch's SparseAdam: a row's moments and
/// weight decay advance only in steps whose batch contains that row; bias correction uses the
/// global step count.
pub struct SparseRows {
    dim: usize,
    weight: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    step: i32,
    params: ParamsAdamW,
}

impl SparseRows {
    /// `weight` is the (vocab, dim) table, row-major.
    pub fn new(weight: Vec<f32>, dim: usize, params: ParamsAdamW) -> Self {
        let n = weight.len();
        Self {
            dim,
            weight,
            m: vec![0.0; n],
            v: vec![0.0; n],
            step: 0,
            params,
        }
    }

    /// The rows `ids` as a (ids.len(), dim) tensor.
    pub fn gather(&self, ids: &[u32], device: &Device) -> Result<Tensor> {
        let mut out = Vec::with_capacity(ids.len() * self.dim);
        for &id in ids {
            let start = id as usize * self.dim;
            out.extend_from_slice(&self.weight[start..start + self.dim]);
        }
        Tensor::from_vec(out, (ids.len(), self.dim), device)
    }

    /// One AdamW step on rows `ids`, whose gradients are the rows of `grad` (ids.len(), dim).
    pub fn update(&mut self, ids: &[u32], grad: &Tensor) -> Result<()> {
        let grad = grad.flatten_all()?.to_vec1::<f32>()?;
        self.step += 1;
        let p = &self.params;
        let (b1, b2) = (p.beta1 as f32, p.beta2 as f32);
        let scale_m = 1.0 / (1.0 - p.beta1.powi(self.step)) as f32;
        let scale_v = 1.0 / (1.0 - p.beta2.powi(self.step)) as f32;
        let (lr, decay, eps) = (
            p.lr as f32,
            (1.0 - p.lr * p.weight_decay) as f32,
            p.eps as f32,
        );
        for (k, &id) in ids.iter().enumerate() {
            let row = id as usize * self.dim..(id as usize + 1) * self.dim;
            let g = &grad[k * self.dim..(k + 1) * self.dim];
            let w = &mut self.weight[row.clone()];
            let m = &mut self.m[row.clone()];
            let v = &mut self.v[row];
            for j in 0..self.dim {
                m[j] = b1 * m[j] + (1.0 - b1) * g[j];
                v[j] = b2 * v[j] + (1.0 - b2) * g[j] * g[j];
                w[j] = w[j] * decay - lr * (m[j] * scale_m) / ((v[j] * scale_v).sqrt() + eps);
            }
        }
        Ok(())
    }

    /// The whole table as a (vocab, dim) tensor.
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        Tensor::from_slice(
            &self.weight,
            (self.weight.len() / self.dim, self.dim),
            device,
        )
    }
}

/// The global L2 norm of a set of gradients.
pub fn global_norm<'a>(grads: impl IntoIterator<Item = &'a Tensor>) -> Result<f64> {
    let mut total = 0.0f64;
    for g in grads {
        total += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
    }
    Ok(total.sqrt())
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
    use candle_core::Var;
    use candle_nn::{AdamW, Optimizer};

    /// With every row in every batch, the lazy update must equal candle's dense AdamW.
    #[test]
    fn sparse_rows_match_dense_adamw_when_all_rows_are_touched() {
        let dev = Device::Cpu;
        let params = ParamsAdamW {
            lr: 0.01,
            weight_decay: 0.1,
            ..Default::default()
        };
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
            sparse.update(&[0, 1, 2, 3], &g).unwrap();
            dense.step(&grads).unwrap();
        }
        let a = sparse
            .to_tensor(&dev)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn untouched_rows_do_not_move() {
        let mut sparse = SparseRows::new(vec![1.0; 6], 2, ParamsAdamW::default());
        let g = Tensor::new(&[[0.5f32, -0.5]], &Device::Cpu).unwrap();
        sparse.update(&[1], &g).unwrap();
        assert_eq!(&sparse.weight[0..2], &[1.0, 1.0]);
        assert_eq!(&sparse.weight[4..6], &[1.0, 1.0]);
        assert_ne!(&sparse.weight[2..4], &[1.0, 1.0]);
    }

    #[test]
    fn compact_ids_rewrites_batches() {
        let (u, local) = compact_ids(&[vec![7, 3, 7], vec![], vec![3, 9]]);
        assert_eq!(u, vec![3, 7, 9]);
        assert_eq!(local, vec![vec![1, 0, 1], vec![], vec![0, 2]]);
    }
}
