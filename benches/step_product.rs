//! The matrix product at the heart of every recurrent step, alone: h (texts x hidden) times
//! W_hh^T (hidden x gates * hidden), as the fused kernel runs it (gemm, single-threaded,
//! W_hh^T dense; `Weight::step_product` as prediction calls it, which takes the AVX-512 loop
//! over `Panels` for at most 4 texts; and in bfloat16 as `--bf16` does), next to that
//! `Panels` loop (W_hh^T packed once into panels of 64 columns) for every number of texts:
//! what the f32 kernel could gain from it past 4 texts.
//! Prediction spends most of its time here (docs/performance.md), so this bounds what a faster
//! product could give. First it measures the core's FMA peak (independent fused multiply-adds
//! on registers, nothing from memory): the ceiling both products are measured against.
//!
//! ```sh
//! cargo bench --bench step_product                 # hidden 256 (LSTM: 1024 gate columns)
//! cargo bench --bench step_product -- 128 512      # hidden, gate columns
//! ```

use lstm_sentiment::kernel::{Panels, View, ViewMut, Weight};
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
    if let Some(peak) = peak::fma() {
        println!("FMA peak, one thread: {peak:.1} GFLOP/s (AVX-512, 24 independent chains)");
    }
    if let Some(peak) = peak::bf16() {
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
        let panel_rate = match Panels::available() {
            true => {
                let panels = Panels::new(b_view);
                let r = rate(&mut || panels.product(ViewMut::dense(&mut c, m, n), a_view));
                let diff = c.iter().zip(&expected).map(|(x, y)| (x - y).abs());
                assert!(diff.fold(0.0, f32::max) < 1e-3, "the two products differ");
                format!("{r:.1}")
            }
            false => "-".into(),
        };
        println!(
            "texts {m:>4}: gemm {gemm_rate:>6.1}   step_product {step_rate:>6.1}   \
             AVX-512 panels {panel_rate:>6}   bf16 (--bf16) {bf16_rate:>6}"
        );
    }
}

#[cfg(target_arch = "x86_64")]
mod peak {
    use std::arch::x86_64::*;

    /// Rounds of the peak loops: a fraction of a second each.
    const ROUNDS: usize = 20_000_000;

    /// GFLOP/s of fused multiply-adds alone, best of 3, where the CPU has AVX-512.
    pub fn fma() -> Option<f64> {
        if !is_x86_feature_detected!("avx512f") {
            return None;
        }
        // SAFETY: AVX-512F is present (checked above).
        let seconds = best_of_3(|| unsafe { fma_chains(std::hint::black_box(ROUNDS)) });
        Some((ROUNDS * CHAINS * 16 * 2) as f64 / seconds / 1e9)
    }

    /// The same for `vdpbf16ps` (two bfloat16 products per lane, summed into f32), which
    /// `--bf16` prediction runs on; None without AVX512-BF16.
    pub fn bf16() -> Option<f64> {
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
}

#[cfg(not(target_arch = "x86_64"))]
mod peak {
    pub fn fma() -> Option<f64> {
        None
    }
    pub fn bf16() -> Option<f64> {
        None
    }
}
