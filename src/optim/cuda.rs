//! AdamW on a GPU (`adamw.cu`): a dense parameter takes its step in two launches, its moments
//! and then its weights, each updated in place, where candle's ops would take a dozen and a
//! copy; a table kept on a GPU updates the batch's rows of its weights and moments in one, where
//! the host would gather them, copy them down, update them and send them back.

use super::step::AdamWStep;
use crate::encoder::cuda::kernels::{compiled, int, launch};
use candle_core::cuda::cudarc::driver::{DeviceRepr, PushKernelArg};
use candle_core::{bail, CpuStorage, CudaStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor};
use std::sync::OnceLock;

const SOURCE: &str = include_str!("adamw.cu");
/// The name candle keeps the loaded module under, per device.
const MODULE: &str = "lstm_sentiment_adamw";

// SAFETY: seven f32s in C layout (`#[repr(C)]`), as adamw.cu's `AdamWStep` declares them.
unsafe impl DeviceRepr for AdamWStep {}

fn ptx() -> Result<&'static str> {
    static PTX: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    compiled(&PTX, SOURCE)
}

/// The contiguous span of a tensor's storage, or an error naming `what`.
fn span(layout: &Layout, what: &str) -> Result<(usize, usize)> {
    match layout.contiguous_offsets() {
        Some(span) => Ok(span),
        None => bail!("AdamW: expected {what} to be contiguous"),
    }
}

/// One AdamW step on a dense parameter `w` on a GPU, with gradient `grad` times `scale`:
/// `moments` (2, elements of `w`), m then v, and then `w` itself are updated in place.
pub(super) fn update_dense(
    w: &Tensor,
    moments: &Tensor,
    grad: &Tensor,
    scale: f32,
    step: &AdamWStep,
) -> Result<()> {
    let n = w.elem_count();
    if grad.elem_count() != n || moments.elem_count() != 2 * n {
        bail!(
            "AdamW: {n} weights with {} gradients and {} moments",
            grad.elem_count(),
            moments.elem_count()
        )
    }
    let grad = grad.contiguous()?;
    moments.inplace_op2(&grad, &Moments { step, scale })?;
    w.inplace_op2(moments, &Weights { step })
}

/// One AdamW step on rows `ids` (distinct) of `stacked` (3, rows, dim): weights, first and
/// second moments, with gradient rows `grad` (ids.len(), dim) times `scale`.
pub(super) fn update_rows(
    stacked: &Tensor,
    ids: &[u32],
    grad: &Tensor,
    scale: f32,
    step: &AdamWStep,
) -> Result<()> {
    let rows = stacked.dim(1)?;
    if let Some(&id) = ids.iter().find(|&&id| id as usize >= rows) {
        bail!("sparse AdamW: row {id} is past the table's {rows} rows")
    }
    let ids = Tensor::from_slice(ids, ids.len(), stacked.device())?;
    let grad = grad.to_device(stacked.device())?.contiguous()?;
    stacked.inplace_op3(&ids, &grad, &Rows { step, scale })
}

/// The moments' launch: (2, n) in place, from the gradient.
struct Moments<'a> {
    step: &'a AdamWStep,
    scale: f32,
}

impl InplaceOp2 for Moments<'_> {
    fn name(&self) -> &'static str {
        "adamw-moments"
    }

    fn cpu_fwd(&self, _: &mut CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<()> {
        bail!("AdamW: this op runs on a CUDA GPU; the CPU updates its parameters on the host")
    }

    fn cuda_fwd(
        &self,
        moments: &mut CudaStorage,
        moments_l: &Layout,
        grad: &CudaStorage,
        grad_l: &Layout,
    ) -> Result<()> {
        let ((m0, m1), (g0, g1)) = (span(moments_l, "the moments")?, span(grad_l, "a gradient")?);
        let n = g1 - g0;
        if m1 - m0 != 2 * n {
            bail!("AdamW: {} moments for {n} gradients", m1 - m0)
        }
        let dev = moments.device.clone();
        let grad = grad.as_cuda_slice::<f32>()?.slice(g0..g1);
        let mut moments = moments.as_cuda_slice_mut::<f32>()?.slice_mut(m0..m1);
        let f = dev.get_or_load_custom_func("adamw_moments", MODULE, ptx()?)?;
        let f = f.into_cuda_function();
        let stream = dev.cuda_stream();
        let mut args = stream.launch_builder(&f);
        let n_arg = int(n)?;
        args.arg(&n_arg).arg(&grad).arg(&self.scale).arg(self.step);
        args.arg(&mut moments);
        // SAFETY: adamw_moments' arguments in order; `moments` holds 2n floats, `grad` n.
        unsafe { launch(args, n) }
    }
}

/// The weights' launch: in place, from the new moments.
struct Weights<'a> {
    step: &'a AdamWStep,
}

impl InplaceOp2 for Weights<'_> {
    fn name(&self) -> &'static str {
        "adamw-weights"
    }

    fn cpu_fwd(&self, _: &mut CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<()> {
        bail!("AdamW: this op runs on a CUDA GPU; the CPU updates its parameters on the host")
    }

    fn cuda_fwd(
        &self,
        w: &mut CudaStorage,
        w_l: &Layout,
        moments: &CudaStorage,
        moments_l: &Layout,
    ) -> Result<()> {
        let ((w0, w1), (m0, m1)) = (span(w_l, "the weights")?, span(moments_l, "the moments")?);
        let n = w1 - w0;
        if m1 - m0 != 2 * n {
            bail!("AdamW: {} moments for {n} weights", m1 - m0)
        }
        let dev = w.device.clone();
        let moments = moments.as_cuda_slice::<f32>()?.slice(m0..m1);
        let mut w = w.as_cuda_slice_mut::<f32>()?.slice_mut(w0..w1);
        let f = dev.get_or_load_custom_func("adamw_weights", MODULE, ptx()?)?;
        let f = f.into_cuda_function();
        let stream = dev.cuda_stream();
        let mut args = stream.launch_builder(&f);
        let n_arg = int(n)?;
        args.arg(&n_arg).arg(&moments).arg(self.step).arg(&mut w);
        // SAFETY: adamw_weights' arguments in order; `moments` holds 2n floats, `w` n.
        unsafe { launch(args, n) }
    }
}

/// The rows' launch: the stacked table in place, from the ids and their gradient rows.
struct Rows<'a> {
    step: &'a AdamWStep,
    scale: f32,
}

impl InplaceOp3 for Rows<'_> {
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
        args.arg(&n_arg)
            .arg(&dim_arg)
            .arg(&table)
            .arg(&ids)
            .arg(&grad);
        args.arg(&self.scale).arg(self.step).arg(state);
        // SAFETY: sparse_adamw's arguments in order; the ids index rows of the table (the
        // compacted ids of the batch), and `grad` holds n rows of dim.
        unsafe { launch(args, n * dim) }
    }
}

#[cfg(test)]
mod tests {
    /// NVRTC needs no GPU: this runs wherever the `cuda` feature builds and its libraries load.
    #[test]
    fn the_kernels_compile_with_nvrtc() {
        let ptx = super::ptx().unwrap();
        for name in ["adamw_moments", "adamw_weights", "sparse_adamw"] {
            assert!(ptx.contains(&format!(".entry {name}(")), "{name}");
        }
    }
}
