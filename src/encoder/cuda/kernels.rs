//! The kernels of `recurrent.cu` and `persistent.cu`, compiled once per process by NVRTC and
//! loaded once per device.
//!
//! Compiled at run time rather than by nvcc in a build script: candle's CUDA backend already
//! links NVRTC, so this needs no build.rs (the CPU build stays exactly as it was) and no compute
//! capability fixed at build time, and the driver gets PTX made for whatever GPU it runs on.
//! The price is one compilation of a small file per process, the first time a layer runs on a
//! GPU.

use crate::config::Cell;
use candle_core::cuda::cudarc::driver::{CudaFunction, CudaStream, LaunchArgs, LaunchConfig};
use candle_core::cuda::cudarc::nvrtc;
use candle_core::cuda::{CudaDevice, WrapErr};
use candle_core::{Error, Result};
use std::sync::{Arc, OnceLock};

/// `persistent.cu` builds on `recurrent.cu`'s cells, so the two compile as one.
const SOURCE: &str = concat!(include_str!("recurrent.cu"), include_str!("persistent.cu"));
/// The name candle keeps the loaded module under, per device.
const MODULE: &str = "lstm_sentiment_recurrent";
/// Threads per block: one per (text, unit).
const BLOCK: u32 = 256;

/// The PTX of [`SOURCE`], compiled on first use.
fn ptx() -> Result<&'static str> {
    static PTX: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    compiled(&PTX, SOURCE)
}

/// The PTX of `source`, compiled by NVRTC the first time `cache` is asked.
pub(crate) fn compiled(
    cache: &'static OnceLock<std::result::Result<String, String>>,
    source: &str,
) -> Result<&'static str> {
    let compiled = cache.get_or_init(|| {
        let ptx = nvrtc::compile_ptx(source).map_err(|e| e.to_string())?;
        Ok(ptx.to_src())
    });
    match compiled {
        Ok(ptx) => Ok(ptx),
        Err(e) => Err(Error::Msg(format!(
            "lstm-sentiment's CUDA kernels do not compile: {e}"
        ))),
    }
}

/// One cell's forward and backward step kernels on one device.
pub struct StepKernels {
    stream: Arc<CudaStream>,
    forward: CudaFunction,
    backward: CudaFunction,
}

/// The kernel `name` of [`SOURCE`] on `dev`.
pub fn function(dev: &CudaDevice, name: &str) -> Result<CudaFunction> {
    let f = dev.get_or_load_custom_func(name, MODULE, ptx()?)?;
    Ok(f.into_cuda_function())
}

impl StepKernels {
    pub fn load(dev: &CudaDevice, cell: Cell) -> Result<Self> {
        let step = |way: &str| function(dev, &format!("{}_{way}", cell.name()));
        Ok(Self {
            stream: dev.cuda_stream(),
            forward: step("forward")?,
            backward: step("backward")?,
        })
    }

    /// A launch of the forward step, on the device's stream; its arguments are `FORWARD_ARGS`.
    pub fn forward(&self) -> LaunchArgs<'_> {
        self.stream.launch_builder(&self.forward)
    }

    /// A launch of the backward step; its arguments are `BACKWARD_ARGS`.
    pub fn backward(&self) -> LaunchArgs<'_> {
        self.stream.launch_builder(&self.backward)
    }
}

/// A size as the kernels' and cuBLAS's `int`.
pub fn int(v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::Msg(format!("recurrent kernels: {v} does not fit an int")))
}

/// Launches a kernel with one thread per (text, unit), or per any other unit of work,
/// `units` in all.
///
/// # Safety
/// `args` must be the kernel's arguments, of its types and in its order, over buffers that
/// hold the rows its sizes name.
pub unsafe fn launch(mut args: LaunchArgs, units: usize) -> Result<()> {
    if units == 0 {
        return Ok(());
    }
    let blocks = u32::try_from(units.div_ceil(BLOCK as usize))
        .map_err(|_| Error::Msg(format!("recurrent kernels: {units} units")))?;
    let config = LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: as the caller promises.
    unsafe { args.launch(config) }.w()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// NVRTC needs no GPU: this runs wherever the `cuda` feature builds and its libraries load.
    #[test]
    fn the_kernels_compile_with_nvrtc() {
        let ptx = super::ptx().unwrap();
        for name in ["lstm", "gru", "rnn"] {
            let ways = [
                "forward",
                "backward",
                "persistent_forward",
                "persistent_backward",
            ];
            for step in ways {
                let entry = format!(".entry {name}_{step}(");
                assert!(ptx.contains(&entry), "{entry} missing from the PTX");
            }
        }
    }
}
