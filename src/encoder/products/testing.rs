//! What the products' tests compare against.

use super::view::View;

/// The textbook triple loop.
pub fn naive(a: View, b: View) -> Vec<f32> {
    let mut out = vec![0.0; a.rows() * b.cols()];
    for i in 0..a.rows() {
        for j in 0..b.cols() {
            out[i * b.cols() + j] = (0..a.cols()).map(|p| a.at(i, p) * b.at(p, j)).sum();
        }
    }
    out
}

pub fn assert_close(x: &[f32], y: &[f32], tolerance: f32) {
    assert_eq!(x.len(), y.len());
    for (a, b) in x.iter().zip(y) {
        assert!((a - b).abs() < tolerance, "{a} vs {b}");
    }
}

/// `len` values in [-0.5, 0.5) from a short cycle: exact in any sum order of few terms.
pub fn values(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7 + seed * 13) % 17) as f32 / 17.0 - 0.5)
        .collect()
}

/// `len` pseudo-random values in [-0.5, 0.5).
pub fn random_values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// Says on the test run's own stderr, which `cargo test` shows even for a passing test, that the
/// running test checked nothing and why (not `eprintln!`: the harness drops what that prints).
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let line = format!("skipped in {}: {why}\n", thread.name().unwrap_or("a test"));
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}
