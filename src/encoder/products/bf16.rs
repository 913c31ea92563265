//! Matrix products with bfloat16 operands and float32 sums, for prediction on CPUs with
//! AVX512-BF16, where one `vdpbf16ps` does twice the multiply-adds of an f32 FMA.
//!
//! The right operand (a weight matrix, the same for every step of a batch) is rounded once and
//! packed into panels of `PANEL` columns (see `panels`) whose rows are pairs of its rows: each
//! pair (2p, 2p + 1) is `PANEL` 32-bit words, column j's word holding its two bfloat16 values,
//! which is the layout `vdpbf16ps` multiplies pairwise. The left operand (the states) is
//! rounded per product. Both round to nearest even, so each product differs from f32 by about
//! 2^-9 relative per term.

use super::panels::{pack, BLOCK_ROWS, PANEL};
use super::view::{View, ViewMut};
use std::cell::RefCell;

/// Whether this CPU runs the products (std caches the check, so asking often is cheap).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// f32 to bfloat16, rounding to nearest even. Weights and states are finite; a NaN would
/// come out as some other value, and wrapping keeps it from panicking.
fn round(x: f32) -> u32 {
    let bits = x.to_bits();
    bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16
}

/// Two values as one word: the first in the low half, as `vdpbf16ps` pairs them.
fn pair(lo: f32, hi: f32) -> u32 {
    round(lo) | (round(hi) << 16)
}

/// A (k x n) right operand, rounded and packed.
pub struct Packed {
    pairs: usize,
    n: usize,
    /// Panel q, pair p, column j at `(q * pairs + p) * PANEL + j`; columns past n are zero.
    words: Vec<u32>,
}

thread_local! {
    /// The left operand, rounded: kept from product to product (one packed weight serves the
    /// threads of every part of a batch).
    static SCRATCH: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

impl Packed {
    pub fn new(b: View) -> Self {
        let (k, n) = (b.rows(), b.cols());
        let pairs = k.div_ceil(2);
        let words = pack(pairs, n, |p, c| {
            let hi = if 2 * p + 1 < k {
                b.at(2 * p + 1, c)
            } else {
                0.0
            };
            pair(b.at(2 * p, c), hi)
        });
        Self { pairs, n, words }
    }

    /// dst = a b, for `a` (m x k).
    pub fn product(&self, dst: ViewMut, a: View) {
        SCRATCH.with_borrow_mut(|scratch| self.product_with(dst, a, scratch));
    }

    fn product_with(&self, dst: ViewMut, a: View, scratch: &mut Vec<u32>) {
        let m = a.rows();
        assert!(a.cols().div_ceil(2) == self.pairs && dst.rows() == m && dst.cols() == self.n);
        assert!(available(), "bf16 products need AVX512-BF16");
        scratch.clear();
        scratch.resize(m * self.pairs, 0);
        let k = a.cols();
        for (r, words) in scratch.chunks_exact_mut(self.pairs.max(1)).enumerate() {
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if let Some(row) = a.contiguous_row(r) {
                // SAFETY: AVX512-F and -BF16 are present (asserted above).
                done = unsafe { kernel::round_pairs(row, words) };
            }
            for (p, word) in words.iter_mut().enumerate().skip(done) {
                let hi = if 2 * p + 1 < k {
                    a.at(r, 2 * p + 1)
                } else {
                    0.0
                };
                *word = pair(a.at(r, 2 * p), hi);
            }
        }
        if m == 0 || self.n == 0 {
            return;
        }
        assert!(dst.in_bounds());
        let (data, stride) = dst.into_raw();
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX512-F and -BF16 are present (asserted above); `scratch` holds m x pairs
        // words, `words` every panel, and the assert above keeps each row's n outputs in `data`.
        unsafe {
            kernel::product(m, self.pairs, self.n, scratch, &self.words, data, stride)
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use super::{BLOCK_ROWS, PANEL};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bf16")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn product(
        m: usize,
        pairs: usize,
        n: usize,
        a: &[u32],
        words: &[u32],
        dst: &mut [f32],
        stride: usize,
    ) {
        for q in 0..n.div_ceil(PANEL) {
            let panel = words.as_ptr().add(q * pairs * PANEL);
            let cols = PANEL.min(n - q * PANEL);
            let out = dst.as_mut_ptr().add(q * PANEL);
            for i in (0..m).step_by(BLOCK_ROWS) {
                let a = a.as_ptr().add(i * pairs);
                let out = out.add(i * stride);
                match m - i {
                    1 => block::<1>(pairs, a, panel, out, stride, cols),
                    2 => block::<2>(pairs, a, panel, out, stride, cols),
                    3 => block::<3>(pairs, a, panel, out, stride, cols),
                    4 => block::<4>(pairs, a, panel, out, stride, cols),
                    5 => block::<5>(pairs, a, panel, out, stride, cols),
                    _ => block::<BLOCK_ROWS>(pairs, a, panel, out, stride, cols),
                }
            }
        }
    }

    /// Rounds `row` into `words` 32 values at a time (subnormals become zero, which the scalar
    /// rounding does not do: below 1.2e-38 it makes no difference to a sum); returns how many
    /// words it wrote.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn round_pairs(row: &[f32], words: &mut [u32]) -> usize {
        let mut done = 0;
        for (values, out) in row.chunks_exact(32).zip(words.chunks_exact_mut(16)) {
            let lo = _mm512_loadu_ps(values.as_ptr());
            let hi = _mm512_loadu_ps(values.as_ptr().add(16));
            let rounded = _mm512_cvtne2ps_pbh(hi, lo);
            _mm512_storeu_si512(
                out.as_mut_ptr().cast(),
                std::mem::transmute::<__m512bh, __m512i>(rounded),
            );
            done += 16;
        }
        done
    }

    /// R rows of `a` times one panel, into R rows of `cols` outputs.
    #[target_feature(enable = "avx512f,avx512bf16")]
    #[inline]
    unsafe fn block<const R: usize>(
        pairs: usize,
        a: *const u32,
        panel: *const u32,
        out: *mut f32,
        stride: usize,
        cols: usize,
    ) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for p in 0..pairs {
            let b = panel.add(p * PANEL);
            let bv: [__m512bh; 4] =
                [0, 16, 32, 48].map(|o| std::mem::transmute(_mm512_loadu_si512(b.add(o).cast())));
            for (r, acc) in acc.iter_mut().enumerate() {
                let av: __m512bh =
                    std::mem::transmute(_mm512_set1_epi32(*a.add(r * pairs + p) as i32));
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = _mm512_dpbf16_ps(*acc, av, bv);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let row = out.add(r * stride);
            for (v, &acc) in acc.iter().enumerate() {
                let lanes = cols.saturating_sub(16 * v).min(16);
                if lanes == 16 {
                    _mm512_storeu_ps(row.add(16 * v), acc);
                } else if lanes > 0 {
                    _mm512_mask_storeu_ps(row.add(16 * v), (1u16 << lanes) - 1, acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::products::matmul::product;
    use crate::encoder::products::testing::{random_values, skip};

    #[test]
    fn rounding_is_to_nearest_even() {
        assert_eq!(round(1.0), 0x3f80);
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: even (1) wins.
        assert_eq!(round(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(round(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(round(-2.0), 0xc000);
    }

    /// Odd k, n not a multiple of the panel width, rows not a multiple of the block, and `b`
    /// read through a transposed strided view, as the kernel reads W_hh.
    #[test]
    fn products_match_f32_to_bf16_precision() {
        if !available() {
            return skip("this CPU lacks AVX512-BF16");
        }
        for (m, k, n) in [
            (1, 1, 1),
            (7, 5, 70),
            (13, 33, 64),
            (6, 256, 1024),
            (20, 128, 130),
        ] {
            let a = random_values(m * k, 1);
            let w = random_values(n * (k + 3), 2); // (n x k) inside a wider matrix
            let b = View::new(&w[3..], n, k, k + 3).t();
            let mut want = vec![0.0; m * n];
            product(
                ViewMut::dense(&mut want, m, n),
                View::dense(&a, m, k),
                b,
                false,
            );
            let mut got = vec![f32::NAN; m * (n + 2)];
            let packed = Packed::new(b);
            packed.product(ViewMut::new(&mut got, m, n, n + 2), View::dense(&a, m, k));
            for r in 0..m {
                for c in 0..n {
                    let (g, w) = (got[r * (n + 2) + c], want[r * n + c]);
                    // Terms of at most 0.25 each, rounded by 2^-9 relative twice.
                    let tol = 0.25 * k as f32 * 2.0 * 2f32.powi(-8);
                    assert!((g - w).abs() <= tol, "{m}x{k}x{n} ({r},{c}): {g} vs {w}");
                }
                assert!(got[r * (n + 2) + n].is_nan(), "wrote past the row");
            }
        }
    }
}
