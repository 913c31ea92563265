//! Right-hand operands laid out in panels of 64 columns (four AVX-512 vectors), the layout of
//! the hand-written kernels: a panel's rows are contiguous, so a product streams each panel
//! once, and a row of a panel loads as four vectors.
//!
//! [`pack`] makes the layout for any element type (f32 here, pairs of bfloat16 in `bf16`);
//! [`Panels`] multiplies f32 panels.

use super::view::{View, ViewMut};

/// Columns per panel: four AVX-512 vectors of f32 (or of bfloat16 pairs).
pub const PANEL: usize = 64;
/// Rows per register block: 6 x 4 accumulators, leaving registers for the operands.
pub const BLOCK_ROWS: usize = 6;

/// A (rows x cols) matrix, element (r, c) given by `at`, as panels of [`PANEL`] columns: panel
/// q, row r, column j at `(q * rows + r) * PANEL + j`. Columns past `cols` hold `T::default()`.
pub fn pack<T: Copy + Default>(rows: usize, cols: usize, at: impl Fn(usize, usize) -> T) -> Vec<T> {
    let mut out = vec![T::default(); cols.div_ceil(PANEL) * rows * PANEL];
    for (q, panel) in out.chunks_exact_mut(rows * PANEL).enumerate() {
        let first = q * PANEL;
        let width = (cols - first).min(PANEL);
        for (r, row) in panel.chunks_exact_mut(PANEL).enumerate() {
            for (j, value) in row[..width].iter_mut().enumerate() {
                *value = at(r, first + j);
            }
        }
    }
    out
}

/// An f32 right operand (k x n) in panels, for products with any number of rows: each element
/// one sum in order of k, with fused multiply-adds.
pub struct Panels {
    data: Vec<f32>,
    k: usize,
    n: usize,
}

impl Panels {
    /// Whether this CPU runs [`product`](Self::product) (AVX-512F and FMA).
    pub fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma");
        #[allow(unreachable_code)]
        false
    }

    /// `b` laid out in panels. Only where [`available`](Self::available).
    pub fn new(b: View) -> Self {
        let (k, n) = (b.rows(), b.cols());
        Self {
            data: pack(k, n, |r, c| b.at(r, c)),
            k,
            n,
        }
    }

    /// dst = a b.
    pub fn product(&self, dst: ViewMut, a: View) {
        let (m, k, n) = (a.rows(), self.k, self.n);
        assert!(a.cols() == k && dst.rows() == m && dst.cols() == n);
        assert!(a.in_bounds() && dst.in_bounds());
        assert!(
            Self::available(),
            "panels are made only where their product runs"
        );
        // Row r of a, dense, at r * k.
        let mut rows = Vec::with_capacity(m * k);
        for r in 0..m {
            rows.extend((0..k).map(|p| a.at(r, p)));
        }
        let (out, stride) = dst.into_raw();
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512F and FMA (asserted above); `rows` holds m x k, the panels
        // k x PANEL each, and dst's rows (stride apart, n wide) lie in `out` (asserted above),
        // whose elements past column n the masked stores leave alone.
        unsafe {
            kernel::product(m, k, n, &rows, &self.data, out.as_mut_ptr(), stride)
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (rows, out, stride);
    }
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use super::{BLOCK_ROWS, PANEL};
    use std::arch::x86_64::*;

    /// Each panel, [`BLOCK_ROWS`] rows of `a` at a time.
    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn product(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        panels: &[f32],
        out: *mut f32,
        stride: usize,
    ) {
        for q in 0..n.div_ceil(PANEL) {
            let panel = panels.as_ptr().add(q * k * PANEL);
            let cols = PANEL.min(n - q * PANEL);
            let out = out.wrapping_add(q * PANEL);
            for i in (0..m).step_by(BLOCK_ROWS) {
                let a = a.as_ptr().add(i * k);
                let out = out.wrapping_add(i * stride);
                match m - i {
                    1 => block::<1>(k, a, panel, out, stride, cols),
                    2 => block::<2>(k, a, panel, out, stride, cols),
                    3 => block::<3>(k, a, panel, out, stride, cols),
                    4 => block::<4>(k, a, panel, out, stride, cols),
                    5 => block::<5>(k, a, panel, out, stride, cols),
                    _ => block::<BLOCK_ROWS>(k, a, panel, out, stride, cols),
                }
            }
        }
    }

    /// R rows of `a` times one panel: R x 4 vector accumulators over the panel's k rows.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    unsafe fn block<const R: usize>(
        k: usize,
        a: *const f32,
        panel: *const f32,
        out: *mut f32,
        stride: usize,
        cols: usize,
    ) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for p in 0..k {
            let row = panel.add(p * PANEL);
            let b = [0, 16, 32, 48].map(|o| _mm512_loadu_ps(row.add(o)));
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a.add(r * k + p));
                for (acc, &b) in acc.iter_mut().zip(&b) {
                    *acc = _mm512_fmadd_ps(av, b, *acc);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (v, &acc) in acc.iter().enumerate() {
                let lanes = cols.saturating_sub(16 * v).min(16);
                if lanes > 0 {
                    // Masked-off lanes are not written; their addresses may lie past dst.
                    let at = out.wrapping_add(r * stride + 16 * v);
                    _mm512_mask_storeu_ps(at, ((1u32 << lanes) - 1) as u16, acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::products::testing::{assert_close, naive, skip, values};

    #[test]
    fn packing_puts_each_panel_row_together_and_pads_with_the_default() {
        // 2 x 70: two panels, the second 6 columns wide.
        let packed = pack(2, 70, |r, c| (100 * r + c) as u32 + 1);
        assert_eq!(packed.len(), 2 * 2 * PANEL);
        assert_eq!(packed[0], 1); // panel 0, row 0, column 0
        assert_eq!(packed[PANEL], 101); // panel 0, row 1
        assert_eq!(packed[2 * PANEL], 65); // panel 1, row 0, column 64
        assert_eq!(packed[2 * PANEL + 5], 70);
        assert_eq!(packed[2 * PANEL + 6], 0);
        assert_eq!(packed[3 * PANEL + 5], 170);
    }

    /// Row counts below, at and past a register block; n not a multiple of the panel; `b` read
    /// through a transposed view; rows of dst wider than n.
    #[test]
    fn products_match_the_triple_loop() {
        if !Panels::available() {
            return skip("this CPU lacks AVX-512F or FMA");
        }
        for (m, k, n) in [
            (1, 256, 1024),
            (2, 7, 3),
            (3, 33, 65),
            (6, 5, 130),
            (13, 9, 70),
        ] {
            let a = values(m * k, 3);
            let wide = values(n * (k + 1), 4);
            let b = View::new(&wide[1..], n, k, k + 1).t();
            let mut dst = vec![7.0; m * (n + 2)];
            let panels = Panels::new(b);
            panels.product(ViewMut::new(&mut dst, m, n, n + 2), View::dense(&a, m, k));
            let want = naive(View::dense(&a, m, k), b);
            for r in 0..m {
                assert_close(&dst[r * (n + 2)..][..n], &want[r * n..(r + 1) * n], 1e-4);
                assert_eq!(&dst[r * (n + 2) + n..(r + 1) * (n + 2)], &[7.0, 7.0]);
            }
        }
    }
}
