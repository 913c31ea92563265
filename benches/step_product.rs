//! The matrix product at the heart of every recurrent step, alone: h (texts x hidden) times
//! W_hh^T (hidden x gates * hidden), as the fused kernel runs it (gemm, single-threaded,
//! W_hh^T dense; `Weight::step_product` as prediction calls it, which takes its own AVX-512
//! loop for at most 4 texts; and in bfloat16 as `--bf16` does), next to a plain
//! register-blocked AVX-512 loop over W_hh^T packed once into panels of 64 columns for any
//! number of texts (what a hand-written f32 kernel could reuse across all steps).
//! Prediction spends most of its time here (docs/performance.md), so this bounds what a faster
//! product could give. First it measures the core's FMA peak (independent fused multiply-adds
//! on registers, nothing from memory): the ceiling both products are measured against.
//!
//! ```sh
//! cargo bench --bench step_product                 # hidden 256 (LSTM: 1024 gate columns)
//! cargo bench --bench step_product -- 128 512      # hidden, gate columns
//! ```

use lstm_sentiment::encoder::matmul::{View, ViewMut, Weight};
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .filter_map(|a| a.parse().ok())
        .collect();
    let (k, n) = (
        args.first().copied().unwrap_or(256),
        args.get(1).copied().unwrap_or(1024),
    );
    if let Some(peak) = panels::fma_peak() {
        println!("FMA peak, one thread: {peak:.1} GFLOP/s (AVX-512, 24 independent chains)");
    }
    if let Some(peak) = panels::bf16_peak() {
        println!("bf16 dot-product peak, one thread: {peak:.1} GFLOP/s (vdpbf16ps, 24 chains)");
    }
    println!("step product: texts x {k} times {k} x {n}, one thread, GFLOP/s (best of 3)");
    for m in [1, 4, 32, 64, 128, 256] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1 - 0.2).collect();
        let mut c = vec![0.0; m * n];
        let iters = (2e10 / (2 * m * k * n) as f64).ceil() as usize;
        let flops = (2 * m * k * n * iters) as f64;
        let rate = |f: &mut dyn FnMut()| {
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    (0..iters).for_each(|_| f());
                    flops / t.elapsed().as_secs_f64() / 1e9
                })
                .fold(0.0, f64::max)
        };
        let b_view = View::dense(&b, k, n);
        let (gemm, bf16) = (Weight::new(b_view, false), Weight::new(b_view, true));
        let a_view = View::dense(&a, m, k);
        let gemm_rate = rate(&mut || gemm.product(ViewMut::dense(&mut c, m, n), a_view));
        let expected = c.clone();
        let steps = Weight::for_steps(b_view, false);
        let step_rate = rate(&mut || steps.step_product(ViewMut::dense(&mut c, m, n), a_view));
        let diff = c.iter().zip(&expected).map(|(x, y)| (x - y).abs());
        assert!(
            diff.fold(0.0, f32::max) < 1e-3,
            "step_product strays from gemm"
        );
        let bf16_rate = match lstm_sentiment::encoder::bf16_available() {
            true => {
                let r = rate(&mut || bf16.product(ViewMut::dense(&mut c, m, n), a_view));
                let diff = c.iter().zip(&expected).map(|(x, y)| (x - y).abs());
                assert!(diff.fold(0.0, f32::max) < 0.05, "bf16 strays from f32");
                format!("{r:.1}")
            }
            false => "-".into(),
        };
        let packed = panels::pack(k, n, &b);
        let panel_rate = match panels::available(n) {
            true => {
                let r = rate(&mut || panels::product(m, k, n, &a, &packed, &mut c));
                let diff = c.iter().zip(&expected).map(|(x, y)| (x - y).abs());
                assert!(diff.fold(0.0, f32::max) < 1e-3, "the two products differ");
                format!("{r:.1}")
            }
            false => "-".into(),
        };
        println!(
            "texts {m:>4}: gemm {gemm_rate:>6.1}   step_product {step_rate:>6.1}   \
             packed AVX-512 panels {panel_rate:>6}   bf16 (--bf16) {bf16_rate:>6}"
        );
    }
}

#[cfg(target_arch = "x86_64")]
mod panels {
    use std::arch::x86_64::*;

    /// Columns per panel: four AVX-512 registers.
    const WIDTH: usize = 64;
    /// Rows per register block: 6 x 4 accumulators.
    const ROWS: usize = 6;

    pub fn available(n: usize) -> bool {
        n.is_multiple_of(WIDTH) && is_x86_feature_detected!("avx512f")
    }

    /// Rounds of the peak loops: a fraction of a second each.
    const ROUNDS: usize = 20_000_000;

    /// GFLOP/s of fused multiply-adds alone, best of 3, where the CPU has AVX-512.
    pub fn fma_peak() -> Option<f64> {
        if !is_x86_feature_detected!("avx512f") {
            return None;
        }
        // SAFETY: AVX-512F is present (checked above).
        let seconds = best_of_3(|| unsafe { fma_chains(std::hint::black_box(ROUNDS)) });
        Some((ROUNDS * CHAINS * 16 * 2) as f64 / seconds / 1e9)
    }

    /// The same for `vdpbf16ps` (two bfloat16 products per lane, summed into f32), which
    /// `--bf16` prediction runs on; None without AVX512-BF16.
    pub fn bf16_peak() -> Option<f64> {
        if !is_x86_feature_detected!("avx512bf16") {
            return None;
        }
        // SAFETY: AVX512-BF16 is present (checked above).
        let seconds = best_of_3(|| unsafe { dot_chains(std::hint::black_box(ROUNDS)) });
        Some((ROUNDS * CHAINS * 32 * 2) as f64 / seconds / 1e9)
    }

    /// The shortest of three timed calls, in seconds.
    fn best_of_3(f: impl Fn() -> f32) -> f64 {
        (0..3)
            .map(|_| {
                let t = std::time::Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn dot_chains(rounds: usize) -> f32 {
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        let ones = _mm512_set1_epi16(0x3f80); // bfloat16 1.0 in every half
        let (a, b): (__m512bh, __m512bh) = std::hint::black_box((
            std::mem::transmute::<__m512i, __m512bh>(ones),
            std::mem::transmute::<__m512i, __m512bh>(ones),
        ));
        for _ in 0..rounds {
            for x in acc.iter_mut() {
                *x = _mm512_dpbf16_ps(*x, a, b);
            }
        }
        total(&acc)
    }

    /// The sum of every lane of every accumulator (so that no chain is optimized away).
    #[target_feature(enable = "avx512f")]
    unsafe fn total(acc: &[__m512]) -> f32 {
        let sum = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &x| _mm512_add_ps(s, x));
        _mm512_reduce_add_ps(sum)
    }

    /// Enough independent accumulators to cover the FMA latency on every pipe.
    const CHAINS: usize = 24;

    #[target_feature(enable = "avx512f")]
    unsafe fn fma_chains(rounds: usize) -> f32 {
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        let (a, b) = std::hint::black_box((_mm512_set1_ps(1.000_000_1), _mm512_set1_ps(1e-7)));
        for _ in 0..rounds {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        total(&acc)
    }

    /// b (k x n) as panels of WIDTH columns, each k rows of WIDTH contiguous floats.
    pub fn pack(k: usize, n: usize, b: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(k * n);
        for p in 0..n / WIDTH {
            for row in b.chunks_exact(n).take(k) {
                out.extend_from_slice(&row[p * WIDTH..(p + 1) * WIDTH]);
            }
        }
        out
    }

    pub fn product(m: usize, k: usize, n: usize, a: &[f32], packed: &[f32], c: &mut [f32]) {
        assert!(available(n) && a.len() >= m * k && packed.len() >= k * n && c.len() >= m * n);
        // SAFETY: AVX-512F is checked by `available`; the asserts cover every index used.
        unsafe { product_avx512(m, k, n, a, packed, c) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn product_avx512(m: usize, k: usize, n: usize, a: &[f32], bp: &[f32], c: &mut [f32]) {
        for p in 0..n / WIDTH {
            let panel = bp.as_ptr().add(p * k * WIDTH);
            for i in (0..m).step_by(ROWS) {
                let rows = ROWS.min(m - i);
                let mut acc = [[_mm512_setzero_ps(); 4]; ROWS];
                for kk in 0..k {
                    let b = panel.add(kk * WIDTH);
                    let bv = [0, 16, 32, 48].map(|o| _mm512_loadu_ps(b.add(o)));
                    for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                        let av = _mm512_set1_ps(*a.get_unchecked((i + r) * k + kk));
                        for (acc, bv) in acc.iter_mut().zip(bv) {
                            *acc = _mm512_fmadd_ps(av, bv, *acc);
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate().take(rows) {
                    let dst = c.as_mut_ptr().add((i + r) * n + p * WIDTH);
                    for (v, acc) in acc.iter().enumerate() {
                        _mm512_storeu_ps(dst.add(16 * v), *acc);
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod panels {
    pub fn available(_: usize) -> bool {
        false
    }
    pub fn fma_peak() -> Option<f64> {
        None
    }
    pub fn bf16_peak() -> Option<f64> {
        None
    }
    pub fn pack(_: usize, _: usize, _: &[f32]) -> Vec<f32> {
        Vec::new()
    }
    pub fn product(_: usize, _: usize, _: usize, _: &[f32], _: &[f32], _: &mut [f32]) {}
}
