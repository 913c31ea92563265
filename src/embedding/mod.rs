//! The embedding table: one word vector (dimension m) per vocabulary id.

use candle_core::{Result, Tensor};

/// PyTorch's `nn.Embedding`: `weight` is (vocab, dim).
#[derive(Debug, Clone)]
pub struct Embedding {
    weight: Tensor,
}

impl Embedding {
    pub fn new(weight: Tensor) -> Self {
        Self { weight }
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// ids (time, batch) u32 -> vectors (time, batch, dim).
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (t, b) = ids.dims2()?;
        let dim = self.weight.dim(1)?;
        self.weight
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((t, b, dim))
    }
}
