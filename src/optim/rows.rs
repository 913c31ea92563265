//! The row-trained tables (word vectors, bigram buckets) with their lazy AdamW state.
//!
//! On the CPU the table and its moments are plain vectors. On a GPU they stay there, in one
//! (3, rows, dim) tensor: a step gathers its rows with one lookup and updates them in place with
//! one kernel ([`super::cuda`]), so only the batch's ids are sent up (and, with a moving
//! average of the weights, the moved rows brought down).

use super::step::AdamWStep;
use candle_core::{Device, Result, Tensor};
use candle_nn::ParamsAdamW;
use std::borrow::Cow;

/// The embedding table with lazy AdamW state, as PyTorch's SparseAdam: a row's moments and
/// weight decay advance only in steps whose batch contains that row; bias correction uses the
/// global step count.
pub struct SparseRows {
    dim: usize,
    store: Store,
    step: i32,
    params: ParamsAdamW,
}

enum Store {
    Host {
        weight: Vec<f32>,
        m: Vec<f32>,
        v: Vec<f32>,
    },
    /// Weight, first and second moments stacked, (3, rows, dim), on a GPU.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    Device(Tensor),
}

/// Values of a table's rows, for the moving average: the whole table on the host (row r at
/// `r * dim`), or the values of the rows asked for, in their order.
pub enum RowValues<'a> {
    Table(Cow<'a, [f32]>),
    Listed(Vec<f32>),
}

impl SparseRows {
    /// `weight` is the (vocab, dim) table, row-major.
    pub fn new(weight: Vec<f32>, dim: usize, params: ParamsAdamW) -> Self {
        let n = weight.len();
        let store = Store::Host {
            weight,
            m: vec![0.0; n],
            v: vec![0.0; n],
        };
        Self {
            dim,
            store,
            step: 0,
            params,
        }
    }

    /// The table kept on `device` from now on: a GPU keeps it (and its moments) there, the CPU
    /// on the host.
    pub fn placed(self, device: &Device) -> Result<Self> {
        match (&self.store, device) {
            #[cfg(feature = "cuda")]
            (Store::Host { weight, m, v }, Device::Cuda(_)) => {
                let rows = weight.len() / self.dim.max(1);
                let stacked = [&weight[..], m, v].concat();
                let store = Store::Device(Tensor::from_vec(stacked, (3, rows, self.dim), device)?);
                Ok(Self { store, ..self })
            }
            _ => Ok(self),
        }
    }

    /// The learning rate of the steps to come (weight decay scales with it, as in PyTorch).
    pub fn set_lr(&mut self, lr: f64) {
        self.params.lr = lr;
    }

    /// The width of a row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The rows `ids` as a (ids.len(), dim) tensor on `device`.
    pub fn gather(&self, ids: &[u32], device: &Device) -> Result<Tensor> {
        match &self.store {
            Store::Host { weight, .. } => {
                let mut out = Vec::with_capacity(ids.len() * self.dim);
                for &id in ids {
                    let start = id as usize * self.dim;
                    out.extend_from_slice(&weight[start..start + self.dim]);
                }
                Tensor::from_vec(out, (ids.len(), self.dim), device)
            }
            Store::Device(stacked) => {
                let ids = Tensor::from_slice(ids, ids.len(), stacked.device())?;
                stacked.get(0)?.index_select(&ids, 0)?.to_device(device)
            }
        }
    }

    /// One AdamW step on rows `ids` (each at most once), whose gradients are the rows of
    /// `grad` (ids.len(), dim) times `scale`.
    pub fn update(&mut self, ids: &[u32], grad: &Tensor, scale: f32) -> Result<()> {
        self.step += 1;
        let step = AdamWStep::new(&self.params, self.step);
        match &mut self.store {
            Store::Host { weight, m, v } => {
                let grad = grad.flatten_all()?.to_vec1::<f32>()?;
                for (k, &id) in ids.iter().enumerate() {
                    let row = id as usize * self.dim..(id as usize + 1) * self.dim;
                    let g = &grad[k * self.dim..(k + 1) * self.dim];
                    let (w, m, v) = (&mut weight[row.clone()], &mut m[row.clone()], &mut v[row]);
                    step.apply(w, m, v, g, scale);
                }
                Ok(())
            }
            #[cfg(feature = "cuda")]
            Store::Device(stacked) => super::cuda::update_rows(stacked, ids, grad, scale, &step),
            #[cfg(not(feature = "cuda"))]
            Store::Device(_) => candle_core::bail!("a table on a GPU needs the `cuda` feature"),
        }
    }

    /// The values of rows `ids` for the moving average, or of the whole table with `None`. On
    /// the host that is the table itself; from a GPU, only what was asked for is copied down.
    pub fn values(&self, ids: Option<&[u32]>) -> Result<RowValues<'_>> {
        Ok(match (&self.store, ids) {
            (Store::Host { weight, .. }, _) => RowValues::Table(Cow::Borrowed(weight)),
            (Store::Device(stacked), None) => {
                RowValues::Table(Cow::Owned(stacked.get(0)?.flatten_all()?.to_vec1()?))
            }
            (Store::Device(_), Some(ids)) => {
                RowValues::Listed(self.gather(ids, &Device::Cpu)?.flatten_all()?.to_vec1()?)
            }
        })
    }

    /// Step count, table and moments, for a checkpoint.
    pub fn state(&self) -> Result<(i32, [Cow<'_, [f32]>; 3])> {
        let parts = match &self.store {
            Store::Host { weight, m, v } => [weight, m, v].map(|x| Cow::Borrowed(&x[..])),
            Store::Device(stacked) => {
                let part = |i| stacked.get(i)?.flatten_all()?.to_vec1().map(Cow::Owned);
                [part(0)?, part(1)?, part(2)?]
            }
        };
        Ok((self.step, parts))
    }

    /// Restores what [`SparseRows::state`] gave.
    pub fn restore(
        &mut self,
        step: i32,
        weight: Vec<f32>,
        m: Vec<f32>,
        v: Vec<f32>,
    ) -> std::result::Result<(), String> {
        let n = match &self.store {
            Store::Host { weight, .. } => weight.len(),
            Store::Device(stacked) => stacked.elem_count() / 3,
        };
        if weight.len() != n || m.len() != n || v.len() != n {
            return Err("embedding state has the wrong size".into());
        }
        self.store = match &self.store {
            Store::Host { .. } => Store::Host { weight, m, v },
            Store::Device(stacked) => {
                let values = [weight, m, v].concat();
                let restored = Tensor::from_vec(values, stacked.dims(), stacked.device());
                Store::Device(restored.map_err(|e| e.to_string())?)
            }
        };
        self.step = step;
        Ok(())
    }

    /// The whole table as a (vocab, dim) tensor of its own on `device`.
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        match &self.store {
            Store::Host { weight, .. } => {
                Tensor::from_slice(weight, (weight.len() / self.dim, self.dim), device)
            }
            // A copy: the next step updates the table in place.
            Store::Device(stacked) => stacked.get(0)?.copy()?.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight(rows: &SparseRows) -> Vec<f32> {
        rows.state().unwrap().1[0].to_vec()
    }

    #[test]
    fn untouched_rows_do_not_move() {
        let mut sparse = SparseRows::new(vec![1.0; 6], 2, ParamsAdamW::default());
        let g = Tensor::new(&[[0.5f32, -0.5]], &Device::Cpu).unwrap();
        sparse.update(&[1], &g, 1.0).unwrap();
        let w = weight(&sparse);
        assert_eq!(&w[0..2], &[1.0, 1.0]);
        assert_eq!(&w[4..6], &[1.0, 1.0]);
        assert_ne!(&w[2..4], &[1.0, 1.0]);
    }

    /// `rows` with its table kept as the stacked tensor a GPU keeps (on the CPU: candle's ops
    /// run the same there; only the update needs the GPU's kernel).
    fn stacked(rows: &SparseRows) -> SparseRows {
        let (step, parts) = rows.state().unwrap();
        let n = parts[0].len() / rows.dim;
        let values = parts.concat();
        let tensor = Tensor::from_vec(values, (3, n, rows.dim), &Device::Cpu).unwrap();
        SparseRows {
            dim: rows.dim,
            store: Store::Device(tensor),
            step,
            params: rows.params.clone(),
        }
    }

    fn listed(values: RowValues) -> Vec<f32> {
        match values {
            RowValues::Table(t) => t.to_vec(),
            RowValues::Listed(v) => v,
        }
    }

    #[test]
    fn a_stacked_table_reads_and_restores_as_the_host_one() {
        let mut host = SparseRows::new(
            (0..12).map(|x| x as f32).collect(),
            3,
            ParamsAdamW::default(),
        );
        let g = Tensor::new(&[[0.5f32, -0.5, 1.0]], &Device::Cpu).unwrap();
        host.update(&[2], &g, 1.0).unwrap();
        let mut device = stacked(&host);
        let cpu = Device::Cpu;
        let ids = [3u32, 0, 2];
        let rows = |t: &SparseRows| t.gather(&ids, &cpu).unwrap().flatten_all().unwrap();
        assert_eq!(
            rows(&host).to_vec1::<f32>().unwrap(),
            rows(&device).to_vec1::<f32>().unwrap()
        );
        let whole = |t: &SparseRows| listed(t.values(None).unwrap());
        assert_eq!(whole(&host), whole(&device));
        let want: Vec<f32> = ids
            .iter()
            .flat_map(|&r| whole(&host)[3 * r as usize..][..3].to_vec())
            .collect();
        assert_eq!(listed(device.values(Some(&ids)).unwrap()), want);
        let tensor = |t: &SparseRows| {
            t.to_tensor(&cpu)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(tensor(&host), tensor(&device));
        let (w, m, v) = (vec![1.0; 12], vec![2.0; 12], vec![3.0; 12]);
        device.restore(5, w.clone(), m.clone(), v.clone()).unwrap();
        let (step, parts) = device.state().unwrap();
        assert_eq!((step, parts.map(|p| p.to_vec())), (5, [w, m, v]));
        let e = device.restore(5, vec![1.0; 3], vec![], vec![]).unwrap_err();
        assert!(e.contains("wrong size"), "{e}");
    }
}
