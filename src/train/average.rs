//! The weights a run evaluates and keeps: an exponential moving average of the weights over the
//! optimizer steps (Polyak averaging, as TensorFlow's `ExponentialMovingAverage` with
//! `num_updates`). After step t, `average = d * average + (1 - d) * weights` with
//! `d = min(decay, (1 + t) / (10 + t))`, so early on the average follows the weights closely
//! and later spans about the last t / 9 steps, up to 1 / (1 - decay). With a constant
//! learning rate the weights at an epoch's end carry the noise of its last batches; the
//! average smooths it, which matters most on small sets where an epoch is a few dozen steps.
//!
//! A step moves only the table rows its batch uses, so the tables' averages are brought up to
//! date lazily: a row left alone since step s keeps the same weights w, and its average after
//! step t is `w + (average_s - w) * d_{s+1} * ... * d_t`. Every row is brought up to date
//! before the average is read ([`Averaged::sync`]), so a checkpoint holds plain averages.
//!
//! A dense tensor's average is kept where its weights are: on a GPU as a tensor there, so that
//! a step mixes it without copying the weights down (which would also make the host wait for
//! the GPU at every step). The tables' averages stay on the host: from a table on a GPU only
//! the rows a step moved are copied down to be mixed in.

use crate::error::{Error, Result};
use crate::optim::{NewWeights, RowValues};
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;

/// The decay at update `t` (counted from 1).
fn decay_at(decay: f64, t: u64) -> f64 {
    decay.min((1.0 + t as f64) / (10.0 + t as f64))
}

/// Moves each average `take` of the way to its weight: a + take (w - a), so a weight that
/// stays put keeps its average exactly.
fn mix(average: &mut [f32], weights: &[f32], take: f32) {
    for (a, w) in average.iter_mut().zip(weights) {
        *a += take * (w - *a);
    }
}

/// A dense tensor's average: on the host for weights on the CPU, a tensor on the weights' GPU.
enum Dense {
    Host(Vec<f32>),
    Device(Tensor),
}

impl Dense {
    /// Starts at `weights`' values, where they are.
    fn new(weights: &Tensor) -> Result<Self> {
        Ok(match weights.device() {
            Device::Cpu => Self::Host(weights.flatten_all()?.to_vec1()?),
            // A copy: the weights' own storage is overwritten in place by the next step.
            _ => Self::Device(weights.detach().copy()?),
        })
    }

    fn len(&self) -> usize {
        match self {
            Self::Host(a) => a.len(),
            Self::Device(a) => a.elem_count(),
        }
    }

    /// Moves the average `take` of the way to `weights`, which the optimizer hands where the
    /// average is kept (both follow the parameter's device).
    fn mix(&mut self, weights: NewWeights, take: f32) -> Result<()> {
        match (self, weights) {
            (Self::Host(a), NewWeights::Host(w)) => mix(a, w, take),
            (Self::Device(a), NewWeights::Device(w)) => {
                let moved = (w.detach().reshape(a.shape())? - &*a)?;
                *a = (&*a + moved.affine(f64::from(take), 0.0)?)?;
            }
            _ => {
                return Err(Error::Config(
                    "the average and its weights are on different devices".into(),
                ))
            }
        }
        Ok(())
    }
}

/// A table's average, with the update after which each row was last brought up to date.
struct Table {
    dim: usize,
    average: Vec<f32>,
    synced: Vec<u64>,
}

impl Table {
    /// Where row `r` lies in the row-major values.
    fn span(&self, r: u32) -> std::ops::Range<usize> {
        r as usize * self.dim..(r as usize + 1) * self.dim
    }

    /// The weights of row `r`, the `k`th of the rows `values` was taken for.
    fn row<'v>(&self, values: &'v RowValues, k: usize, r: u32) -> &'v [f32] {
        match values {
            RowValues::Table(table) => &table[self.span(r)],
            RowValues::Listed(rows) => &rows[k * self.dim..(k + 1) * self.dim],
        }
    }
}

/// The averages of a run's weights: the dense tensors by name and the row-trained tables.
pub(crate) struct Averaged {
    decay: f64,
    /// Updates so far.
    updates: u64,
    /// The sum of ln d over updates `base + 1 ..= base + i`, at index i.
    log_decay: Vec<f64>,
    base: u64,
    dense: BTreeMap<String, Dense>,
    tables: Vec<Table>,
}

impl Averaged {
    /// Averages starting at the given weights, `tables` as (row-major values, row width).
    pub fn new(
        decay: f64,
        dense: &BTreeMap<String, Tensor>,
        tables: Vec<(&[f32], usize)>,
    ) -> Result<Self> {
        let dense = (dense.iter())
            .map(|(name, w)| Ok((name.clone(), Dense::new(w)?)))
            .collect::<Result<_>>()?;
        let tables = (tables.into_iter())
            .map(|(values, dim)| Table {
                dim,
                average: values.to_vec(),
                synced: vec![0; values.len() / dim.max(1)],
            })
            .collect();
        Ok(Self {
            decay,
            updates: 0,
            log_decay: vec![0.0],
            base: 0,
            dense,
            tables,
        })
    }

    /// The factor by which the gap between a row's average and its weights shrinks from
    /// update `from` to the last one.
    fn shrink_since(&self, from: u64) -> f32 {
        let at = |u: u64| self.log_decay[(u - self.base) as usize];
        (at(self.updates) - at(from)).exp() as f32
    }

    /// Brings `rows` of table `i`, whose weights are `values`, up to date with the last
    /// update. Call it for the rows a step is about to move, before it moves them.
    pub fn catch_up(&mut self, i: usize, rows: &[u32], values: &RowValues) {
        let updates = self.updates;
        let shrink: Vec<f32> = (rows.iter())
            .map(|&r| self.shrink_since(self.tables[i].synced[r as usize]))
            .collect();
        let table = &mut self.tables[i];
        for (k, (&r, f)) in rows.iter().zip(shrink).enumerate() {
            let w = table.row(values, k, r);
            let span = table.span(r);
            for (a, w) in table.average[span].iter_mut().zip(w) {
                *a = w + (*a - w) * f;
            }
            table.synced[r as usize] = updates;
        }
    }

    /// Starts one update, for the optimizer step about to run: [`mix_dense`](Self::mix_dense)
    /// then takes in each dense tensor's new weights, and [`mix_rows`](Self::mix_rows) the
    /// table rows the step moved, whose averages [`catch_up`](Self::catch_up) brought up to
    /// date before this update.
    pub fn next_update(&mut self) {
        self.updates += 1;
        let d = decay_at(self.decay, self.updates);
        let last = *self.log_decay.last().unwrap_or(&0.0);
        self.log_decay.push(last + d.ln());
    }

    /// How far this update moves an average towards its weights.
    fn take(&self) -> f32 {
        (1.0 - decay_at(self.decay, self.updates)) as f32
    }

    /// Mixes the weights of the dense tensor `name` after this update's step into its average.
    pub fn mix_dense(&mut self, name: &str, weights: NewWeights) -> Result<()> {
        let take = self.take();
        let average = (self.dense.get_mut(name))
            .ok_or_else(|| Error::Config(format!("no average for the weights of `{name}`")))?;
        average.mix(weights, take)
    }

    /// Mixes `rows` of table `i`, whose weights after this update's step are `values`, into
    /// their averages.
    pub fn mix_rows(&mut self, i: usize, rows: &[u32], values: &RowValues) {
        let (take, updates) = (self.take(), self.updates);
        let table = &mut self.tables[i];
        for (k, &r) in rows.iter().enumerate() {
            let w = table.row(values, k, r);
            let span = table.span(r);
            mix(&mut table.average[span], w, take);
            table.synced[r as usize] = updates;
        }
    }

    /// Brings every row of every table up to date (`tables[i]`: table i's values, whole).
    pub fn sync(&mut self, tables: &[RowValues]) {
        for (i, values) in tables.iter().enumerate() {
            let stale: Vec<u32> = (self.tables[i].synced.iter().enumerate())
                .filter(|&(_, &s)| s != self.updates)
                .map(|(r, _)| r as u32)
                .collect();
            self.catch_up(i, &stale, values);
        }
        self.log_decay = vec![0.0];
        self.base = self.updates;
    }

    /// The names of the dense tensors averaged.
    pub fn dense_names(&self) -> impl Iterator<Item = &str> {
        self.dense.keys().map(String::as_str)
    }

    /// The average of dense tensor `name` as a tensor of `shape` on `device`.
    pub fn dense_tensor(&self, name: &str, shape: &[usize], device: &Device) -> Result<Tensor> {
        match &self.dense.get(name) {
            Some(Dense::Host(a)) => Ok(Tensor::from_slice(a, shape, device)?),
            Some(Dense::Device(a)) => Ok(a.reshape(shape)?.to_device(device)?),
            None => Err(Error::Config(format!(
                "no average for the weights of `{name}`"
            ))),
        }
    }

    /// Table `i`'s average as a (rows, dim) tensor; up to date after [`sync`](Self::sync).
    pub fn table(&self, i: usize, device: &Device) -> Result<Tensor> {
        let t = &self.tables[i];
        Ok(Tensor::from_slice(
            &t.average,
            (t.synced.len(), t.dim),
            device,
        )?)
    }

    /// The number of updates so far, for a checkpoint.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Continues from a checkpoint: the averages it holds (all rows up to date) after
    /// `updates` updates.
    pub fn restore(
        &mut self,
        updates: u64,
        dense: BTreeMap<String, Vec<f32>>,
        tables: Vec<Vec<f32>>,
    ) -> std::result::Result<(), String> {
        for (name, values) in &dense {
            match self.dense.get(name) {
                Some(a) if a.len() == values.len() => {}
                _ => return Err(format!("the average of `{name}` has the wrong size")),
            }
        }
        let dense: BTreeMap<String, Dense> = (dense.into_iter())
            .map(|(name, values)| {
                let average = match &self.dense[&name] {
                    Dense::Host(_) => Dense::Host(values),
                    Dense::Device(a) => Dense::Device(
                        Tensor::from_vec(values, a.shape(), a.device())
                            .map_err(|e| e.to_string())?,
                    ),
                };
                Ok((name, average))
            })
            .collect::<std::result::Result<_, String>>()?;
        if dense.len() != self.dense.len() || tables.len() != self.tables.len() {
            return Err("the checkpoint's averages do not match the model".into());
        }
        for (table, values) in self.tables.iter_mut().zip(tables) {
            if values.len() != table.average.len() {
                return Err("a table's average has the wrong size".into());
            }
            table.average = values;
            table.synced.fill(updates);
        }
        self.dense = dense;
        self.updates = updates;
        self.base = updates;
        self.log_decay = vec![0.0];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// The average of dense tensor `name`'s values, on the host.
    fn dense_values<'a>(avg: &'a Averaged, name: &str) -> Cow<'a, [f32]> {
        match &avg.dense[name] {
            Dense::Host(a) => Cow::Borrowed(a),
            Dense::Device(a) => Cow::Owned(a.flatten_all().unwrap().to_vec1().unwrap()),
        }
    }

    /// The plain, eager average: every value mixed at every update.
    fn eager(decay: f64, start: &[f32], steps: &[Vec<f32>]) -> Vec<f32> {
        let mut a = start.to_vec();
        for (t, w) in (1..).zip(steps) {
            let d = decay_at(decay, t) as f32;
            for (a, w) in a.iter_mut().zip(w) {
                *a += (1.0 - d) * (w - *a);
            }
        }
        a
    }

    #[test]
    fn the_lazy_table_average_is_the_eager_one() {
        // A 3-row table of width 2; each step moves the rows it lists.
        let moves: [&[u32]; 5] = [&[0], &[2], &[0, 2], &[], &[1]];
        let mut values = vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut lazy = Averaged::new(0.9, &BTreeMap::new(), vec![(&values, 2)]).unwrap();
        let mut history = Vec::new();
        for (step, rows) in moves.iter().enumerate() {
            lazy.catch_up(0, rows, &RowValues::Table(Cow::Borrowed(&values)));
            for &r in *rows {
                values[2 * r as usize] += step as f32 + 1.0;
                values[2 * r as usize + 1] -= 0.5;
            }
            lazy.next_update();
            let listed = rows
                .iter()
                .flat_map(|&r| values[2 * r as usize..][..2].to_vec());
            lazy.mix_rows(0, rows, &RowValues::Listed(listed.collect()));
            history.push(values.clone());
        }
        lazy.sync(&[RowValues::Table(Cow::Borrowed(&values))]);
        let got = lazy.table(0, &Device::Cpu).unwrap().flatten_all().unwrap();
        let want = eager(0.9, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &history);
        for (g, w) in got.to_vec1::<f32>().unwrap().iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{g} against {w}");
        }
    }

    #[test]
    fn the_average_trails_the_weights_and_the_decay_caps_its_span() {
        let start = BTreeMap::from([("w".into(), Tensor::new(&[0.0f32], &Device::Cpu).unwrap())]);
        let mut avg = Averaged::new(0.3, &start, vec![]).unwrap();
        for _ in 0..5 {
            avg.next_update();
            avg.mix_dense("w", NewWeights::Host(&[1.0])).unwrap();
        }
        // d = 2/11, 3/12 then the cap 0.3: the average is 1 - the product of the decays.
        let kept = 2.0 / 11.0 * 3.0 / 12.0 * 0.3f64.powi(3);
        let a = dense_values(&avg, "w")[0];
        assert!((f64::from(a) - (1.0 - kept)).abs() < 1e-6, "{a}");
        assert_eq!(decay_at(0.99, 10_000), 0.99);
    }

    /// The average kept as a tensor (as on a GPU; candle's ops run the same on the CPU) is the
    /// host's, and restores from a checkpoint's values where it is kept.
    #[test]
    fn the_tensor_kept_average_is_the_host_one() {
        let w0 = Tensor::new(&[[0.5f32, -1.0], [2.0, 0.25]], &Device::Cpu).unwrap();
        let start = BTreeMap::from([("w".to_string(), w0.clone())]);
        let mut host = Averaged::new(0.9, &start, vec![]).unwrap();
        let mut device = Averaged::new(0.9, &start, vec![]).unwrap();
        device
            .dense
            .insert("w".into(), Dense::Device(w0.copy().unwrap()));
        for step in 1..=4 {
            let w = (&w0 * f64::from(step)).unwrap();
            let values = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            host.next_update();
            host.mix_dense("w", NewWeights::Host(&values)).unwrap();
            device.next_update();
            device.mix_dense("w", NewWeights::Device(&w)).unwrap();
        }
        let (h, d) = (dense_values(&host, "w"), dense_values(&device, "w"));
        for (a, b) in h.iter().zip(d.iter()) {
            assert!((a - b).abs() < 1e-6, "{h:?} against {d:?}");
        }
        let got = device.dense_tensor("w", &[2, 2], &Device::Cpu).unwrap();
        assert_eq!(got.dims(), [2, 2]);
        let back = BTreeMap::from([("w".to_string(), vec![1.0, 2.0, 3.0, 4.0])]);
        device.restore(4, back, vec![]).unwrap();
        assert!(matches!(device.dense["w"], Dense::Device(_)));
        assert_eq!(dense_values(&device, "w").as_ref(), [1.0, 2.0, 3.0, 4.0]);
        let wrong = BTreeMap::from([("w".to_string(), vec![1.0])]);
        let e = device.restore(4, wrong, vec![]).unwrap_err();
        assert!(e.contains("`w` has the wrong size"), "{e}");
    }
}
