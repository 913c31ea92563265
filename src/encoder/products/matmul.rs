//! dst = a b over strided views, on the `gemm` crate that candle's own CPU matmul uses (same
//! version, same microkernels), single-threaded.

use super::view::{View, ViewMut};
use gemm::{gemm, Parallelism};

/// dst = a b, or dst += a b when `accumulate`.
pub fn product(dst: ViewMut, a: View, b: View, accumulate: bool) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    assert!(b.rows() == k && dst.rows() == m && dst.cols() == n);
    assert!(a.in_bounds() && b.in_bounds() && dst.in_bounds());
    let (dst, dst_stride) = dst.into_raw();
    if m == 0 || n == 0 || (k == 0 && accumulate) {
        return;
    }
    if k == 0 {
        for r in 0..m {
            dst[r * dst_stride..][..n].fill(0.0);
        }
        return;
    }
    let ((a_rows, a_cols), (b_rows, b_cols)) = (a.strides(), b.strides());
    // SAFETY: gemm reads a and b and writes dst only at the offsets their views describe; the
    // asserts above keep all of them inside the slices, and `dst` is a unique borrow that
    // cannot alias the shared ones.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            accumulate,
            a.data().as_ptr(),
            a_cols as isize,
            a_rows as isize,
            b.data().as_ptr(),
            b_cols as isize,
            b_rows as isize,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::products::testing::{assert_close, naive, values};

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
        assert_close(&dst, &naive(View::dense(&a, m, k), b), 1e-4);

        let mut acc = vec![1.0; m * n];
        product(
            ViewMut::dense(&mut acc, m, n),
            View::dense(&a, m, k),
            b,
            true,
        );
        let want: Vec<f32> = dst.iter().map(|v| v + 1.0).collect();
        assert_close(&acc, &want, 1e-4);

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
            assert_close(
                &wide_dst[r * 5 + 1..r * 5 + 4],
                &dst[r * n..(r + 1) * n],
                1e-4,
            );
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
