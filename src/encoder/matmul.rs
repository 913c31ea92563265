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
    /// Dense row-major (k x n): gemm would repack a strided operand at every product. With
    /// `panels`, also in column panels for [`Weight::step_product`]'s products of few rows.
    F32 {
        data: Vec<f32>,
        k: usize,
        n: usize,
        panels: Option<Vec<f32>>,
    },
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
            panels: None,
        }
    }

    /// As [`new`](Self::new), laid out also for [`step_product`](Self::step_product) over
    /// few rows (worth it where the weight serves many calls: prediction keeps it).
    pub fn for_steps(b: View, bf16: bool) -> Self {
        match Self::new(b, bf16) {
            Weight::F32 { data, k, n, .. } if few_rows_available() => {
                let panels = Some(panels(&data, k, n));
                Weight::F32 { data, k, n, panels }
            }
            other => other,
        }
    }

    /// dst = a self.
    pub fn product(&self, dst: ViewMut, a: View) {
        match self {
            Weight::F32 { data, k, n, .. } => product(dst, a, View::dense(data, *k, *n), false),
            Weight::Bf16(packed) => packed.product(dst, a),
        }
    }

    /// dst = a self, for the recurrence's step products, which often have very few rows (one
    /// text; the last texts still running): there gemm is slow (benches/step_product.rs), and
    /// [`few_rows`] streams the weight's panels once. Other products keep
    /// gemm's rounding, so that the input side of the gates stays bit for bit the same however
    /// it is split into products.
    pub fn step_product(&self, dst: ViewMut, a: View) {
        match self {
            Weight::F32 {
                panels: Some(panels),
                k,
                n,
                ..
            } if a.rows <= FEW_ROWS => few_rows(dst, a, panels, *k, *n),
            _ => self.product(dst, a),
        }
    }
}

/// Up to this many rows, [`Weight::step_product`] uses [`few_rows`].
const FEW_ROWS: usize = 4;
/// Columns per panel: four AVX-512 vectors.
const PANEL: usize = 64;

fn few_rows_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("fma");
    #[allow(unreachable_code)]
    false
}

/// A dense (k x n) matrix as panels of [`PANEL`] columns, each (k x PANEL) row-major, the last
/// one padded with zeros.
fn panels(data: &[f32], k: usize, n: usize) -> Vec<f32> {
    let count = n.div_ceil(PANEL);
    let mut out = vec![0.0; count * k * PANEL];
    for (q, panel) in out.chunks_exact_mut(k * PANEL).enumerate() {
        let cols = (n - q * PANEL).min(PANEL);
        for (p, row) in panel.chunks_exact_mut(PANEL).enumerate() {
            row[..cols].copy_from_slice(&data[p * n + q * PANEL..][..cols]);
        }
    }
    out
}

/// dst = a b for a of at most [`FEW_ROWS`] rows and b in [`panels`] (k x n), one sum per
/// element in order of k.
fn few_rows(dst: ViewMut, a: View, panels: &[f32], k: usize, n: usize) {
    assert!(a.rows <= FEW_ROWS && a.cols == k && dst.rows == a.rows && dst.cols == n);
    assert!(a.in_bounds() && panels.len() == n.div_ceil(PANEL) * k * PANEL);
    assert!(a.rows == 0 || (a.rows - 1) * dst.row_stride + n <= dst.data.len());
    // Row r of a, dense, at r * k.
    let mut rows = Vec::with_capacity(a.rows * k);
    for r in 0..a.rows {
        rows.extend((0..k).map(|p| a.at(r, p)));
    }
    #[cfg(target_arch = "x86_64")]
    {
        assert!(
            few_rows_available(),
            "panels are made only where few_rows runs"
        );
        let (out, stride) = (dst.data.as_mut_ptr(), dst.row_stride);
        let (a, b) = (rows.as_ptr(), panels.as_ptr());
        // SAFETY: the CPU has AVX-512F and FMA (checked when the panels were made); a holds
        // rows x k, the panels k x PANEL each, and dst's rows (stride apart, n wide) lie in
        // dst.data, whose elements past column n the masked stores leave alone.
        unsafe {
            match dst.rows {
                1 => few_rows_m::<1>(out, stride, a, b, k, n),
                2 => few_rows_m::<2>(out, stride, a, b, k, n),
                3 => few_rows_m::<3>(out, stride, a, b, k, n),
                4 => few_rows_m::<4>(out, stride, a, b, k, n),
                _ => {}
            }
        }
    }
}

/// One panel at a time: M x 4 vector accumulators over k contiguous panel rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn few_rows_m<const M: usize>(
    out: *mut f32,
    stride: usize,
    a: *const f32,
    panels: *const f32,
    k: usize,
    n: usize,
) {
    use std::arch::x86_64::*;
    for q in 0..n.div_ceil(PANEL) {
        let panel = panels.add(q * k * PANEL);
        let mut acc = [[_mm512_setzero_ps(); 4]; M];
        for p in 0..k {
            let row = panel.add(p * PANEL);
            let b0 = _mm512_loadu_ps(row);
            let b1 = _mm512_loadu_ps(row.add(16));
            let b2 = _mm512_loadu_ps(row.add(32));
            let b3 = _mm512_loadu_ps(row.add(48));
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a.add(r * k + p));
                acc[0] = _mm512_fmadd_ps(av, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(av, b1, acc[1]);
                acc[2] = _mm512_fmadd_ps(av, b2, acc[2]);
                acc[3] = _mm512_fmadd_ps(av, b3, acc[3]);
            }
        }
        let j = q * PANEL;
        for (r, acc) in acc.iter().enumerate() {
            for (v, &acc) in acc.iter().enumerate() {
                let lanes = (n - j).saturating_sub(16 * v).min(16);
                if lanes > 0 {
                    // Masked-off lanes are not written; their addresses may lie past dst.
                    let at = out.wrapping_add(r * stride + j + 16 * v);
                    _mm512_mask_storeu_ps(at, ((1u32 << lanes) - 1) as u16, acc);
                }
            }
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
    fn step_products_of_few_rows_match_the_triple_loop() {
        for (m, k, n) in [
            (1, 256, 1024),
            (2, 7, 3),
            (3, 33, 65),
            (4, 5, 130),
            (5, 9, 70),
        ] {
            let a = values(m * k, 3);
            let b = values(k * n, 4);
            let weight = Weight::for_steps(View::dense(&b, k, n), false);
            // Rows of dst 2 wider than n: the gap stays.
            let mut dst = vec![7.0; m * (n + 2)];
            weight.step_product(ViewMut::new(&mut dst, m, n, n + 2), View::dense(&a, m, k));
            let want = naive(View::dense(&a, m, k), View::dense(&b, k, n));
            for r in 0..m {
                close(
                    &dst[r * (n + 2)..r * (n + 2) + n],
                    &want[r * n..(r + 1) * n],
                );
                assert_eq!(&dst[r * (n + 2) + n..(r + 1) * (n + 2)], &[7.0, 7.0]);
            }
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
