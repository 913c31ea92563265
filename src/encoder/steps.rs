//! What every layer and direction needs to know of a padded batch: where each text ends.

use candle_core::{Device, Result, Tensor};

/// Per-batch bookkeeping shared by every layer and direction.
pub struct Steps {
    lengths: Vec<usize>,
    /// `masks[t]`: (batch, 1) u8, 1 where step t is inside the text; None where every text is.
    pub(super) masks: Vec<Option<Tensor>>,
    /// Flat index into (time * batch) that reverses each text within its own length.
    reverse: Tensor,
    /// The same index on the host, for token ids.
    reverse_host: Vec<u32>,
}

impl Steps {
    /// `time` is the padded length (at least 1, so empty texts still flow through the graph).
    pub fn new(lengths: &[usize], time: usize, device: &Device) -> Result<Self> {
        let batch = lengths.len();
        let min_len = lengths.iter().copied().min().unwrap_or(0);
        let mut masks = Vec::with_capacity(time);
        for t in 0..time {
            if t < min_len {
                masks.push(None);
            } else {
                let m: Vec<u8> = lengths.iter().map(|&l| u8::from(t < l)).collect();
                masks.push(Some(Tensor::from_vec(m, (batch, 1), device)?));
            }
        }
        let mut reverse = Vec::with_capacity(time * batch);
        for t in 0..time {
            for (b, &len) in lengths.iter().enumerate() {
                let src = if t < len { len - 1 - t } else { t };
                reverse.push((src * batch + b) as u32);
            }
        }
        Ok(Self {
            lengths: lengths.to_vec(),
            masks,
            reverse: Tensor::new(reverse.as_slice(), device)?,
            reverse_host: reverse,
        })
    }

    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// [`reverse`](Self::reverse) on token ids (time, batch).
    pub(super) fn reverse_ids(&self, ids: &[u32]) -> Vec<u32> {
        self.reverse_host.iter().map(|&i| ids[i as usize]).collect()
    }

    /// Reverses each text in (time, batch, features) within its length; padding stays put.
    /// Applying it twice gives the input back.
    pub(super) fn reverse(&self, xs: &Tensor) -> Result<Tensor> {
        let (t, b, f) = xs.dims3()?;
        xs.reshape((t * b, f))?
            .index_select(&self.reverse, 0)?
            .reshape((t, b, f))
    }
}

/// Zero-length texts have no tokens; they still need one (padding) step to flow through.
pub fn padded_time(lengths: &[usize]) -> usize {
    lengths.iter().copied().max().unwrap_or(0).max(1)
}
