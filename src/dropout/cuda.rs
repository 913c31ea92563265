//! Dropout masks computed on a CUDA GPU from the run's own generator.
//!
//! Drawn on the host and copied up, the masks of a training step at 268 tokens take about 4 ms
//! of a 30-36 ms step, with the GPU idle. Here (`mask.cu`) one thread computes one ChaCha12
//! block, 16 words of the same stream, and turns each into its element's keep flag exactly as
//! the host does; the host only moves the generator's position past them.

use crate::encoder::cuda::kernels::{compiled, int, launch};
use candle_core::cuda::cudarc::driver::PushKernelArg;
use candle_core::{bail, CpuStorage, CudaStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rand_chacha::ChaCha12Rng as Generator;
use std::sync::OnceLock;

const SOURCE: &str = include_str!("mask.cu");
/// The name candle keeps the loaded module under, per device.
const MODULE: &str = "lstm_sentiment_dropout";

fn ptx() -> Result<&'static str> {
    static PTX: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    compiled(&PTX, SOURCE)
}

/// A float32 mask of `xs`'s shape on its GPU, each element 1 / `keep` with probability `keep`,
/// else 0: the mask the host would draw from `rng`, which moves past it.
pub(super) fn mask(rng: &mut Generator, xs: &Tensor, keep: f32) -> Result<Tensor> {
    let start = rng.get_word_pos();
    rng.set_word_pos(start + xs.elem_count() as u128);
    let seed = rng.get_seed();
    let key = std::array::from_fn(|i| {
        u64::from_le_bytes(seed[8 * i..8 * i + 8].try_into().expect("8 bytes"))
    });
    let op = Mask {
        key,
        stream: rng.get_stream(),
        start,
        keep,
    };
    xs.apply_op1_no_bwd(&op)
}

/// Writes the mask of words `start..` of the stream (`key`, `stream`); reads only its input's
/// shape.
struct Mask {
    key: [u64; 4],
    stream: u64,
    start: u128,
    keep: f32,
}

impl CustomOp1 for Mask {
    fn name(&self) -> &'static str {
        "dropout-mask"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        bail!("dropout mask: this op runs on a CUDA GPU; the CPU draws its masks on the host")
    }

    fn cuda_fwd(&self, xs: &CudaStorage, layout: &Layout) -> Result<(CudaStorage, Shape)> {
        let dev = &xs.device;
        let n = layout.shape().elem_count();
        // The generator's block counter is 64 bits and wraps; so does this.
        let first_block = (self.start / 16) as u64;
        let offset = int((self.start % 16) as usize)?;
        // SAFETY: f32 has no invalid bit patterns, and the kernel writes every element.
        let mut out = unsafe { dev.alloc::<f32>(n.max(1)) }?;
        let f = dev.get_or_load_custom_func("dropout_mask", MODULE, ptx()?)?;
        let f = f.into_cuda_function();
        let stream = dev.cuda_stream();
        let mut args = stream.launch_builder(&f);
        let (n_arg, scale) = (n as u64, 1.0 / self.keep);
        args.arg(&n_arg).arg(&first_block).arg(&offset);
        for k in &self.key {
            args.arg(k);
        }
        args.arg(&self.stream)
            .arg(&self.keep)
            .arg(&scale)
            .arg(&mut out);
        // SAFETY: dropout_mask's arguments in order; one thread per block of 16 words covers
        // the n elements that follow `offset` words into the first block.
        unsafe { launch(args, (offset as usize + n).div_ceil(16)) }?;
        let out = CudaStorage::wrap_cuda_slice(out, dev.clone());
        Ok((out, layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    /// NVRTC needs no GPU: this runs wherever the `cuda` feature builds and its libraries load.
    #[test]
    fn the_kernel_compiles_with_nvrtc() {
        assert!(super::ptx().unwrap().contains(".entry dropout_mask("));
    }
}
