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
        self.lookup(ids, None)
    }

    /// [`Embedding::forward`] for ids the caller also holds on the host: `host_ids`, the same
    /// ids in the same (time-major) order. On a GPU the gradient then needs no copy of the ids
    /// down to the host, a copy that would wait for everything queued before it.
    pub fn forward_with_host_ids(&self, ids: &Tensor, host_ids: &[u32]) -> Result<Tensor> {
        if host_ids.len() != ids.elem_count() {
            candle_core::bail!(
                "embedding lookup: {} host ids for {} ids",
                host_ids.len(),
                ids.elem_count()
            )
        }
        self.lookup(ids, Some(host_ids))
    }

    fn lookup(&self, ids: &Tensor, host_ids: Option<&[u32]>) -> Result<Tensor> {
        let (t, b) = ids.dims2()?;
        let dim = self.weight.dim(1)?;
        rows(&self.weight, &ids.flatten_all()?, host_ids)?.reshape((t, b, dim))
    }
}

/// The rows of `table` at `ids` (n,): `index_select`, except for f32 tables on a GPU, whose
/// gradient `index_select` would sum one id at a time (`cuda`).
fn rows(table: &Tensor, ids: &Tensor, host_ids: Option<&[u32]>) -> Result<Tensor> {
    #[cfg(feature = "cuda")]
    if table.device().is_cuda()
        && table.dtype() == candle_core::DType::F32
        && ids.dtype() == candle_core::DType::U32
    {
        let host_ids = host_ids.map(<[u32]>::to_vec);
        return table.apply_op2(ids, cuda::Lookup { host_ids });
    }
    let _ = host_ids; // index_select's gradient needs no copy of the ids
    table.index_select(ids, 0)
}
