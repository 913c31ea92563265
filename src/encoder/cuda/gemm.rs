//! Row-major matrix products on the GPU through cuBLAS, which is column-major: a row-major
//! matrix is its transpose in column-major order, so C = A B is asked for as C^T = B^T A^T,
//! the same memory read the other way round.
//!
//! Products run on candle's cuBLAS handle, which is bound to the device's stream, so they are
//! ordered with the kernels and candle's own work without any synchronization.

use super::kernels::int;
use candle_core::cuda::cudarc::cublas::sys::cublasOperation_t;
use candle_core::cuda::cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use candle_core::cuda::cudarc::driver::{DevicePtr, DevicePtrMut};
use candle_core::cuda::WrapErr;
use candle_core::Result;

/// A row-major operand: its memory, the distance between its rows, and whether the product
/// reads it transposed.
pub struct Operand<'a, P> {
    data: &'a P,
    ld: usize,
    transposed: bool,
}

/// The matrix as stored, rows `ld` floats apart.
pub fn plain<P>(data: &P, ld: usize) -> Operand<'_, P> {
    Operand {
        data,
        ld,
        transposed: false,
    }
}

/// The transpose of the matrix stored with rows `ld` floats apart.
pub fn transposed<P>(data: &P, ld: usize) -> Operand<'_, P> {
    Operand {
        data,
        ld,
        transposed: true,
    }
}

fn op(transposed: bool) -> cublasOperation_t {
    match transposed {
        true => cublasOperation_t::CUBLAS_OP_T,
        false => cublasOperation_t::CUBLAS_OP_N,
    }
}

/// c = a b + beta c, for a (m x k), b (k x n) and c (m x n, rows `ldc` apart). Nothing runs
/// when a size is zero: with k = 0 c is left as it is, so callers start such a c at zero.
pub fn product<A, B, C>(
    blas: &CudaBlas,
    (m, n, k): (usize, usize, usize),
    a: Operand<A>,
    b: Operand<B>,
    (c, ldc): (&mut C, usize),
    beta: f32,
) -> Result<()>
where
    A: DevicePtr<f32>,
    B: DevicePtr<f32>,
    C: DevicePtrMut<f32>,
{
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let config = GemmConfig {
        transa: op(b.transposed),
        transb: op(a.transposed),
        m: int(n)?,
        n: int(m)?,
        k: int(k)?,
        alpha: 1.0,
        lda: int(b.ld)?,
        ldb: int(a.ld)?,
        beta,
        ldc: int(ldc)?,
    };
    // SAFETY: the callers' operands hold the rows and columns the sizes and strides name.
    unsafe { blas.gemm(config, b.data, a.data, c) }.w()
}
