//! Where the model's tensors live: the CPU, or a CUDA GPU in builds with the `cuda` feature.
//!
//! In f32 the recurrence runs as the fused kernel on either: on the CPU as its own code, on a
//! GPU as cuBLAS products and kernels of its own (`encoder::cuda`).

use crate::error::{Error, Result};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A device as users name it: `cpu`, `cuda` (the first GPU) or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceSpec {
    #[default]
    Cpu,
    /// The CUDA GPU with this ordinal.
    Cuda(usize),
}

impl DeviceSpec {
    /// Opens the device. A GPU that is missing, or a build without the `cuda` feature, is an
    /// error that says so.
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(ordinal) => open_cuda(ordinal),
        }
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> Result<Device> {
    Device::new_cuda(ordinal).map_err(|e| {
        // candle appends a backtrace when RUST_BACKTRACE is set; the first line says it all.
        let e = e.to_string();
        let reason = e.lines().next().unwrap_or_default();
        Error::Config(format!("cannot open the CUDA device {ordinal}: {reason}"))
    })
}

/// The first GPU for a unit test that needs one, or `None` after saying, on stderr, that the
/// test at `module` is skipped for want of one.
#[cfg(all(test, feature = "cuda"))]
pub(crate) fn test_gpu(module: &str) -> Option<Device> {
    match open_cuda(0) {
        Ok(gpu) => Some(gpu),
        Err(e) => {
            let line = format!("skipped in {module}: no GPU ({e})\n");
            // Not eprintln!: the test harness drops what that prints for passing tests.
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            None
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(ordinal: usize) -> Result<Device> {
    Err(Error::Config(format!(
        "cuda:{ordinal} asked for, but this build has no CUDA support \
         (build with `--features cuda`)"
    )))
}

impl FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            _ => lower
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "unknown device `{s}`: expected cpu, cuda or cuda:N"
                    ))
                }),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for (name, spec) in [
            ("cpu", DeviceSpec::Cpu),
            ("CUDA", DeviceSpec::Cuda(0)),
            ("gpu", DeviceSpec::Cuda(0)),
            ("cuda:3", DeviceSpec::Cuda(3)),
        ] {
            assert_eq!(name.parse::<DeviceSpec>().unwrap(), spec);
            assert_eq!(spec.to_string().parse::<DeviceSpec>().unwrap(), spec);
        }
        for bad in ["", "tpu", "cuda:", "cuda:x", "cuda:-1"] {
            let err = bad.parse::<DeviceSpec>().unwrap_err().to_string();
            assert!(err.contains("expected cpu, cuda or cuda:N"), "{bad}: {err}");
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_get_it() {
        let err = DeviceSpec::Cuda(0).open().unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
    }
}
