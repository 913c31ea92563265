//! A right-hand operand multiplied many times (a weight matrix, over every step of a batch),
//! laid out once the way its product reads it.

use super::bf16::{self, Packed};
use super::matmul::product;
use super::panels::Panels;
use super::view::{View, ViewMut};

/// Up to this many rows, [`Weight::step_product`] multiplies by [`Panels`].
const FEW_ROWS: usize = 4;

pub enum Weight {
    /// Dense row-major (k x n): gemm would repack a strided operand at every product. With
    /// `panels`, also in panels for [`Weight::step_product`]'s products of few rows.
    F32 {
        data: Vec<f32>,
        k: usize,
        n: usize,
        panels: Option<Panels>,
    },
    /// Rounded to bfloat16 and packed for the bfloat16 kernel.
    Bf16(Packed),
}

impl Weight {
    /// `b` as f32, or as bfloat16 where `bf16` is asked for and the CPU has it.
    pub fn new(b: View, bf16: bool) -> Self {
        if bf16 && bf16::available() {
            return Weight::Bf16(Packed::new(b));
        }
        Weight::F32 {
            data: b.to_dense(),
            k: b.rows(),
            n: b.cols(),
            panels: None,
        }
    }

    /// As [`new`](Self::new), laid out also for [`step_product`](Self::step_product) over
    /// few rows (worth it where the weight serves many calls: prediction keeps it).
    pub fn for_steps(b: View, bf16: bool) -> Self {
        match Self::new(b, bf16) {
            Weight::F32 { data, k, n, .. } if Panels::available() => {
                let panels = Some(Panels::new(View::dense(&data, k, n)));
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
    /// [`Panels`] stream the weight once. Other products keep gemm's rounding, so that the
    /// input side of the gates stays bit for bit the same however it is split into products.
    pub fn step_product(&self, dst: ViewMut, a: View) {
        match self {
            Weight::F32 {
                panels: Some(panels),
                ..
            } if a.rows() <= FEW_ROWS => panels.product(dst, a),
            _ => self.product(dst, a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::products::testing::{assert_close, naive, values};

    #[test]
    fn step_products_match_the_triple_loop() {
        for (m, k, n) in [(1, 256, 1024), (2, 7, 3), (4, 5, 130), (5, 9, 70)] {
            let a = values(m * k, 3);
            let b = values(k * n, 4);
            let weight = Weight::for_steps(View::dense(&b, k, n), false);
            // Rows of dst 2 wider than n: the gap stays.
            let mut dst = vec![7.0; m * (n + 2)];
            weight.step_product(ViewMut::new(&mut dst, m, n, n + 2), View::dense(&a, m, k));
            let want = naive(View::dense(&a, m, k), View::dense(&b, k, n));
            for r in 0..m {
                assert_close(&dst[r * (n + 2)..][..n], &want[r * n..(r + 1) * n], 1e-4);
                assert_eq!(&dst[r * (n + 2) + n..(r + 1) * (n + 2)], &[7.0, 7.0]);
            }
        }
    }
}
