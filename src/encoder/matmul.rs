//! The three matrix products of the fused kernel, over row-major slices, on the `gemm` crate
//! that candle's own CPU matmul uses (same version, same microkernels), single-threaded.

use gemm::{gemm, Parallelism};

/// A read-only matrix view: element (r, c) is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl View<'_> {
    /// Whether every element lies inside `data` (strides are non-negative, so the last is largest).
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// dst (m x n, row-major) = a (m x k) b (k x n), or dst += that when `accumulate`.
fn product(dst: &mut [f32], a: View, b: View, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && dst.len() == m * n && a.in_bounds() && b.in_bounds());
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: gemm reads a and b and writes dst only at the offsets their views describe; the
    // assert above keeps all of them inside the slices, and `dst` is a unique borrow that
    // cannot alias the shared ones.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            // dst = alpha * dst + beta * a b
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// dst (m x n) (+)= a (m x k) w^T, with w stored (n x k) as PyTorch keeps weights.
pub fn a_wt(dst: &mut [f32], a: &[f32], w: &[f32], m: usize, k: usize, n: usize, acc: bool) {
    let a = View {
        data: a,
        rows: m,
        cols: k,
        row_stride: k,
        col_stride: 1,
    };
    let wt = View {
        data: w,
        rows: k,
        cols: n,
        row_stride: 1,
        col_stride: k,
    };
    product(dst, a, wt, acc);
}

/// dst (m x n) (+)= a (m x k) w, with w stored (k x n).
pub fn a_w(dst: &mut [f32], a: &[f32], w: &[f32], m: usize, k: usize, n: usize, acc: bool) {
    let a = View {
        data: a,
        rows: m,
        cols: k,
        row_stride: k,
        col_stride: 1,
    };
    let w = View {
        data: w,
        rows: k,
        cols: n,
        row_stride: n,
        col_stride: 1,
    };
    product(dst, a, w, acc);
}

/// dst (m x n) = a^T b, with a stored (k x m) and b stored (k x n): a sum of k outer products.
pub fn at_b(dst: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    let at = View {
        data: a,
        rows: m,
        cols: k,
        row_stride: 1,
        col_stride: m,
    };
    let b = View {
        data: b,
        rows: k,
        cols: n,
        row_stride: n,
        col_stride: 1,
    };
    product(dst, at, b, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook triple loop over explicit (row, col) accessors.
    fn naive(
        m: usize,
        k: usize,
        n: usize,
        a: impl Fn(usize, usize) -> f32,
        b: impl Fn(usize, usize) -> f32,
    ) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a(i, p) * b(p, j)).sum();
            }
        }
        out
    }

    fn close(x: &[f32], y: &[f32]) {
        assert_eq!(x.len(), y.len());
        for (a, b) in x.iter().zip(y) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7 + seed * 13) % 17) as f32 / 17.0 - 0.5)
            .collect()
    }

    #[test]
    fn products_match_the_triple_loop() {
        let (m, k, n) = (5, 7, 3);
        let a = values(m * k, 1);
        let w = values(n * k, 2);
        let mut dst = vec![1.0; m * n];
        a_wt(&mut dst, &a, &w, m, k, n, false);
        close(
            &dst,
            &naive(m, k, n, |i, p| a[i * k + p], |p, j| w[j * k + p]),
        );

        let w = values(k * n, 3);
        let mut acc = vec![1.0; m * n];
        a_w(&mut acc, &a, &w, m, k, n, true);
        let want: Vec<f32> = naive(m, k, n, |i, p| a[i * k + p], |p, j| w[p * n + j])
            .iter()
            .map(|v| v + 1.0)
            .collect();
        close(&acc, &want);

        let b = values(k * n, 4);
        let at = values(k * m, 5);
        let mut dst = vec![0.0; m * n];
        at_b(&mut dst, &at, &b, m, k, n);
        close(
            &dst,
            &naive(m, k, n, |i, p| at[p * m + i], |p, j| b[p * n + j]),
        );
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let mut dst = vec![3.0; 4];
        at_b(&mut dst, &[], &[], 2, 0, 2);
        assert_eq!(dst, vec![0.0; 4]);
    }
}
