//! The embedding table: one word vector (dimension m) per vocabulary id.

#[cfg(feature = "cuda")]
mod cuda;

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
        lookup(&self.weight, &ids.flatten_all()?)?.reshape((t, b, dim))
    }
}

/// The rows of `table` at `ids` (n,): `index_select`, except for f32 tables on a GPU, whose
/// gradient `index_select` would sum one id at a time (`cuda`).
fn lookup(table: &Tensor, ids: &Tensor) -> Result<Tensor> {
    #[cfg(feature = "cuda")]
    if table.device().is_cuda()
        && table.dtype() == candle_core::DType::F32
        && ids.dtype() == candle_core::DType::U32
    {
        return table.apply_op2(ids, cuda::Lookup);
    }
    table.index_select(ids, 0)
}
