//! The embedding lookup on a CUDA GPU, with a backward of its own.
//!
//! candle's `index_select` backs up through `index_add`, whose CUDA kernel gives each column
//! of the table one thread, and that thread walks every looked-up id in turn: 128 threads for a
//! batch of 17,000 tokens, on a GPU that runs tens of thousands at once. Here the gradient is
//! summed per table row instead: the ids are sorted on the host into each row's token positions
//! (a counting sort), and one thread per (row, column) adds that row's gradients in token
//! order, so the sums come out the same on every run (no atomics).

use crate::encoder::cuda::kernels::{compiled, int, launch};
use candle_core::backend::BackendStorage;
use candle_core::cuda::cudarc::driver::PushKernelArg;
use candle_core::{
    bail, CpuStorage, CudaStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor,
};
use std::sync::OnceLock;

const SOURCE: &str = r#"
// out (rows, dim): row r is the sum of grad's rows positions[offsets[r] .. offsets[r + 1]].
extern "C" __global__ void embedding_backward(int rows, int dim, const unsigned int *offsets,
                                              const unsigned int *positions, const float *grad,
                                              float *out) {
  int k = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (k >= rows * dim) return;
  int r = k / dim, j = k % dim;
  float sum = 0.0f;
  for (unsigned int p = offsets[r]; p < offsets[r + 1]; ++p)
    sum += grad[(size_t)positions[p] * dim + j];
  out[k] = sum;
}
"#;
/// The name candle keeps the loaded module under, per device.
const MODULE: &str = "lstm_sentiment_embedding";

fn ptx() -> Result<&'static str> {
    static PTX: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    compiled(&PTX, SOURCE)
}

/// (table (vocab, dim) f32, ids (n,) u32) -> the table's rows at the ids, (n, dim).
pub struct Lookup {
    /// The ids on the host, where the caller has them; otherwise the backward copies them down.
    pub host_ids: Option<Vec<u32>>,
}

impl CustomOp2 for Lookup {
    fn name(&self) -> &'static str {
        "embedding-lookup"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        bail!("embedding lookup: this op runs on a CUDA GPU; the CPU takes index_select")
    }

    fn cuda_fwd(
        &self,
        table: &CudaStorage,
        table_l: &Layout,
        ids: &CudaStorage,
        ids_l: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (n, dim) = (ids_l.shape().elem_count(), table_l.shape().dims2()?.1);
        let rows = table.index_select(ids, table_l, ids_l, 0)?;
        Ok((rows, Shape::from((n, dim))))
    }

    fn bwd(
        &self,
        table: &Tensor,
        ids: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let copied;
        let ids = match &self.host_ids {
            Some(ids) => ids,
            None => {
                copied = ids.to_vec1::<u32>()?;
                &copied
            }
        };
        let sums = RowSums {
            by_row: ByRow::new(ids, table.dim(0)?)?,
        };
        Ok((Some(grad.contiguous()?.apply_op1_no_bwd(&sums)?), None))
    }
}

/// Token positions grouped by the table row they read: row r's are
/// `positions[offsets[r]..offsets[r + 1]]`, in token order.
#[derive(Debug, PartialEq)]
struct ByRow {
    offsets: Vec<u32>,
    positions: Vec<u32>,
}

impl ByRow {
    fn new(ids: &[u32], rows: usize) -> Result<Self> {
        let mut offsets = vec![0u32; rows + 1];
        for &id in ids {
            match offsets.get_mut(id as usize + 1) {
                Some(count) => *count += 1,
                None => bail!("embedding lookup: id {id} is past the table's {rows} rows"),
            }
        }
        for r in 0..rows {
            offsets[r + 1] += offsets[r];
        }
        let mut next = offsets.clone();
        let mut positions = vec![0u32; ids.len()];
        for (p, &id) in ids.iter().enumerate() {
            let slot = &mut next[id as usize];
            positions[*slot as usize] = p as u32;
            *slot += 1;
        }
        Ok(Self { offsets, positions })
    }

    fn rows(&self) -> usize {
        self.offsets.len() - 1
    }
}

/// grad (n, dim) -> (rows, dim), each row the sum of the gradients of the tokens that read it.
struct RowSums {
    by_row: ByRow,
}

impl CustomOp1 for RowSums {
    fn name(&self) -> &'static str {
        "embedding-row-sums"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        bail!("embedding gradient: this op runs on a CUDA GPU")
    }

    fn cuda_fwd(&self, grad: &CudaStorage, layout: &Layout) -> Result<(CudaStorage, Shape)> {
        let dev = &grad.device;
        let (_, dim) = layout.shape().dims2()?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("embedding gradient: expected a contiguous gradient")
        };
        let grad = grad.as_cuda_slice::<f32>()?.slice(start..end);
        let rows = self.by_row.rows();
        let offsets = dev.clone_htod(&self.by_row.offsets)?;
        let positions = dev.clone_htod(&self.by_row.positions)?;
        // SAFETY: f32 has no invalid bit patterns, and the kernel writes every element.
        let mut out = unsafe { dev.alloc::<f32>((rows * dim).max(1)) }?;
        let f = dev.get_or_load_custom_func("embedding_backward", MODULE, ptx()?)?;
        let f = f.into_cuda_function();
        let stream = dev.cuda_stream();
        let mut args = stream.launch_builder(&f);
        let (rows_arg, dim_arg) = (int(rows)?, int(dim)?);
        args.arg(&rows_arg)
            .arg(&dim_arg)
            .arg(&offsets)
            .arg(&positions);
        args.arg(&grad).arg(&mut out);
        // SAFETY: embedding_backward's arguments in order, over buffers of the sizes named.
        unsafe { launch(args, rows * dim) }?;
        let out = CudaStorage::wrap_cuda_slice(out, dev.clone());
        Ok((out, Shape::from((rows, dim))))
    }
}

#[cfg(test)]
mod tests {
    use super::ByRow;

    #[test]
    fn tokens_are_grouped_by_row_in_token_order() {
        let by_row = ByRow::new(&[2, 0, 2, 3, 2], 4).unwrap();
        assert_eq!(by_row.offsets, [0, 1, 1, 4, 5]);
        assert_eq!(by_row.positions, [1, 0, 2, 4, 3]);
    }

    #[test]
    fn an_id_past_the_table_is_an_error() {
        let e = ByRow::new(&[0, 4], 4).unwrap_err().to_string();
        assert!(e.contains("id 4 is past the table's 4 rows"), "{e}");
    }

    /// NVRTC needs no GPU: this runs wherever the `cuda` feature builds and its libraries load.
    #[test]
    fn the_kernel_compiles_with_nvrtc() {
        assert!(super::ptx().unwrap().contains(".entry embedding_backward("));
    }
}
