//! The row-sparse AdamW step on a GPU: one kernel (`sparse_adamw.cu`) updates the batch's rows
//! of the table and of its moments in place, where the host would gather them, copy them down,
//! update them and send them back.

use super::step::AdamWStep;
use crate::encoder::cuda::kernels::{compiled, int, launch};
use candle_core::cuda::cudarc::driver::PushKernelArg;
use candle_core::{bail, CpuStorage, CudaStorage, InplaceOp3, Layout, Result, Tensor};
use std::sync::OnceLock;

const SOURCE: &str = include_str!("sparse_adamw.cu");
/// The name candle keeps the loaded module under, per device.
const MODULE: &str = "lstm_sentiment_sparse_adamw";

fn ptx() -> Result<&'static str> {
    static PTX: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    compiled(&PTX, SOURCE)
}

/// One AdamW step on rows `ids` (distinct) of `stacked` (3, rows, dim): weights, first and
/// second moments, with gradient rows `grad` (ids.len(), dim).
pub(super) fn update_rows(
    stacked: &Tensor,
    ids: &[u32],
    grad: &Tensor,
    step: &AdamWStep,
) -> Result<()> {
    let rows = stacked.dim(1)?;
    if let Some(&id) = ids.iter().find(|&&id| id as usize >= rows) {
        bail!("sparse AdamW: row {id} is past the table's {rows} rows")
    }
    let ids = Tensor::from_slice(ids, ids.len(), stacked.device())?;
    let grad = grad.to_device(stacked.device())?.contiguous()?;
    stacked.inplace_op3(&ids, &grad, &Update { step })
}

struct Update<'a> {
    step: &'a AdamWStep,
}

impl InplaceOp3 for Update<'_> {
    fn name(&self) -> &'static str {
        "sparse-adamw"
    }

    fn cpu_fwd(
        &self,
        _: &mut CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<()> {
        bail!("sparse AdamW: this op runs on a CUDA GPU; the CPU keeps its tables on the host")
    }

    fn cuda_fwd(
        &self,
        state: &mut CudaStorage,
        state_l: &Layout,
        ids: &CudaStorage,
        ids_l: &Layout,
        grad: &CudaStorage,
        grad_l: &Layout,
    ) -> Result<()> {
        let (_, rows, dim) = state_l.shape().dims3()?;
        let n = ids_l.shape().elem_count();
        let (Some((0, _)), Some((i0, i1)), Some((g0, g1))) = (
            state_l.contiguous_offsets(),
            ids_l.contiguous_offsets(),
            grad_l.contiguous_offsets(),
        ) else {
            bail!("sparse AdamW: expected a whole contiguous table and contiguous rows")
        };
        if g1 - g0 != n * dim {
            bail!(
                "sparse AdamW: {n} ids but {} gradient values of rows of {dim}",
                g1 - g0
            )
        }
        let dev = state.device.clone();
        let ids = ids.as_cuda_slice::<u32>()?.slice(i0..i1);
        let grad = grad.as_cuda_slice::<f32>()?.slice(g0..g1);
        let state = state.as_cuda_slice_mut::<f32>()?;
        let f = dev.get_or_load_custom_func("sparse_adamw", MODULE, ptx()?)?;
        let f = f.into_cuda_function();
        let stream = dev.cuda_stream();
        let mut args = stream.launch_builder(&f);
        let (n_arg, dim_arg, table) = (int(n)?, int(dim)?, (rows * dim) as i64);
        let s = self.step;
        args.arg(&n_arg)
            .arg(&dim_arg)
            .arg(&table)
            .arg(&ids)
            .arg(&grad);
        args.arg(&s.b1).arg(&s.b2).arg(&s.scale_m).arg(&s.scale_v);
        args.arg(&s.lr).arg(&s.decay).arg(&s.eps).arg(state);
        // SAFETY: sparse_adamw's arguments in order; the ids index rows of the table (the
        // compacted ids of the batch), and `grad` holds n rows of dim.
        unsafe { launch(args, n * dim) }
    }
}

#[cfg(test)]
mod tests {
    /// NVRTC needs no GPU: this runs wherever the `cuda` feature builds and its libraries load.
    #[test]
    fn the_kernel_compiles_with_nvrtc() {
        assert!(super::ptx().unwrap().contains(".entry sparse_adamw("));
    }
}
