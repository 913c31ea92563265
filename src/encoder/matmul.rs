//! Matrix products over strided views of slices, on the `gemm` crate that candle's own CPU
//! matmul uses (same version, same microkernels), single-threaded.
//!
//! Views let the kernel read W_ih and W_hh (and write their gradients) in place inside one
//! (gates * hidden, input + hidden) matrix, and read transposes without copying.

use super::bf16;
use gemm::{gemm, Parallelism};

/// A read-only matrix: element (r, c) is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major (rows x cols) matrix whose rows are `row_stride` apart.
    pub fn new(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// A dense row-major (rows x cols) matrix.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row r as a slice, where its elements are contiguous.
    pub fn contiguous_row(&self, r: usize) -> Option<&'a [f32]> {
        (self.col_stride == 1 || self.cols <= 1)
            .then(|| &self.data[r * self.row_stride..][..self.cols])
    }

    /// Element (r, c).
    pub fn at(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.row_stride + c * self.col_stride]
    }

    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// The elements copied into a dense row-major matrix.
    pub fn to_dense(self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.rows * self.cols);
        for r in 0..self.rows {
            let row = &self.data[r * self.row_stride..];
            out.extend((0..self.cols).map(|c| row[c * self.col_stride]));
        }
        out
    }

    /// Whether every element lies inside `data` (strides are non-negative, so the last is largest).
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// A row-major matrix to write: element (r, c) is `data[r * row_stride + c]`.
pub struct ViewMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a> ViewMut<'a> {
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride,
        }
    }

    pub fn dense(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The slice and the distance between rows.
    pub fn into_raw(self) -> (&'a mut [f32], usize) {
        (self.data, self.row_stride)
    }
}

/// dst = a b, or dst += a b when `accumulate`.
pub fn product(dst: ViewMut, a: View, b: View, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && dst.rows == m && dst.cols == n);
    let dst_view = View::new(dst.data, m, n, dst.row_stride);
    assert!(a.in_bounds() && b.in_bounds() && dst_view.in_bounds());
    if m == 0 || n == 0 || (k == 0 && accumulate) {
        return;
    }
    if k == 0 {
        for r in 0..m {
            dst.data[r * dst.row_stride..][..n].fill(0.0);
        }
        return;
    }
    // SAFETY: gemm reads a and b and writes dst only at the offsets their views describe; the
    // asserts above keep all of them inside the slices, and `dst` is a unique borrow that
    // cannot alias the shared ones.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            1,
            dst.row_stride as isize,
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

/// A right-hand operand multiplied many times (a weight matrix, over every step of a batch),
/// laid out once the way its kernel reads it.
pub enum Weight {
    /// Dense row-major (k x n): gemm would repack a strided operand at every product.
    F32 { data: Vec<f32>, k: usize, n: usize },
    /// Rounded to bfloat16 and packed for [`bf16`]'s kernel.
    Bf16(bf16::Packed),
}

impl Weight {
    /// `b` as f32, or as bfloat16 where `bf16` is asked for and the CPU has it.
    pub fn new(b: View, bf16: bool) -> Self {
        if bf16 && bf16::available() {
            return Weight::Bf16(bf16::Packed::new(b));
        }
        Weight::F32 {
            data: b.to_dense(),
            k: b.rows,
            n: b.cols,
        }
    }

    /// dst = a self.
    pub fn product(&self, dst: ViewMut, a: View) {
        match self {
            Weight::F32 { data, k, n } => product(dst, a, View::dense(data, *k, *n), false),
            Weight::Bf16(packed) => packed.product(dst, a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook triple loop.
    fn naive(a: View, b: View) -> Vec<f32> {
        let at = |v: &View, r: usize, c: usize| v.data[r * v.row_stride + c * v.col_stride];
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                out[i * b.cols + j] = (0..a.cols).map(|p| at(&a, i, p) * at(&b, p, j)).sum();
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
        // b^T stored (n x k) inside a wider matrix, as W_hh sits in [W_ih | W_hh].
        let wide = values(n * (k + 2), 2);
        let b = View::new(&wide[2..], n, k, k + 2).t();
        let mut dst = vec![1.0; m * n];
        product(
            ViewMut::dense(&mut dst, m, n),
            View::dense(&a, m, k),
            b,
            false,
        );
        close(&dst, &naive(View::dense(&a, m, k), b));

        let mut acc = vec![1.0; m * n];
        product(
            ViewMut::dense(&mut acc, m, n),
            View::dense(&a, m, k),
            b,
            true,
        );
        let want: Vec<f32> = dst.iter().map(|v| v + 1.0).collect();
        close(&acc, &want);

        // Written into columns 1..4 of a (m x 5) matrix: the rest stays.
        let mut wide_dst = vec![9.0; m * 5];
        product(
            ViewMut::new(&mut wide_dst[1..], m, n, 5),
            View::dense(&a, m, k),
            b,
            false,
        );
        for r in 0..m {
            assert_eq!(wide_dst[r * 5], 9.0);
            assert_eq!(wide_dst[r * 5 + 4], 9.0);
            close(&wide_dst[r * 5 + 1..r * 5 + 4], &dst[r * n..(r + 1) * n]);
        }
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let mut dst = vec![3.0; 4];
        product(
            ViewMut::dense(&mut dst, 2, 2),
            View::dense(&[], 2, 0),
            View::dense(&[], 0, 2),
            false,
        );
        assert_eq!(dst, vec![0.0; 4]);
    }
}
