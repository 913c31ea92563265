//! e^x, sigmoid and tanh for the fused kernel and the sampled softmax, in plain f32 arithmetic
//! that the compiler vectorizes.
//!
//! libm's `expf`/`tanhf` are opaque calls, one element at a time; the gate math of a step would
//! then cost about as much as its matrix product. These use only multiply, add, divide, min/max
//! and bit casts, so a loop over a row becomes SIMD code. All three stay within a few float32
//! ulps of libm (see the tests), far inside the 1e-5 of the PyTorch parity fixtures.

/// e^x for x in [-87.3, 88.3] (inputs outside are clamped; sigmoid and tanh need no more).
///
/// Cephes' expf: x = n ln2 + r with |r| <= ln2 / 2, a degree-7 polynomial for e^r, and 2^n
/// written straight into the exponent bits.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two (Cody-Waite) so that n * LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // n is in [-126, 127] after the clamp: a normal power of two.
    e_r * f32::from_bits(((n_bits + 127) << 23) as u32)
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// tanh(x) = (1 - e^{-2|x|}) / (1 + e^{-2|x|}) with x's sign; below |x| = 0.25 that difference
/// cancels, so the odd Taylor polynomial takes over (the first term left out, 1382 x^11 / 155925,
/// is below 3e-9 there).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let e = exp(-2.0 * a);
    let large = (1.0 - e) / (1.0 + e);
    let x2 = x * x;
    let small = x
        * (1.0
            + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0)))));
    if a < 0.25 {
        small
    } else {
        large.copysign(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 1/1024 from -30 to 30, plus tiny and huge inputs.
    fn grid() -> impl Iterator<Item = f32> {
        (-30 * 1024..=30 * 1024).map(|i| i as f32 / 1024.0).chain([
            1e-30, -1e-30, 1e-7, -1e-7, 1e-4, 0.249_999, 0.25, 100.0, -100.0, 1e30,
        ])
    }

    /// |a - b| relative to b, but absolute near zero where relative error means nothing.
    fn error(a: f32, b: f64) -> f64 {
        (f64::from(a) - b).abs() / b.abs().max(1e-3)
    }

    #[test]
    fn exp_matches_libm() {
        let worst = grid()
            .filter(|x| x.abs() <= 87.0)
            .chain((-87..=87).map(|i| i as f32))
            .map(|x| (f64::from(exp(x)) - f64::from(x).exp()).abs() / f64::from(x).exp())
            .fold(0.0, f64::max);
        assert!(worst < 5e-7, "worst error {worst}");
        // Clamped, never infinite or zero: callers that need an exact 0 test for it.
        assert_eq!(exp(f32::NEG_INFINITY), exp(-87.3));
        assert!(exp(f32::NEG_INFINITY) > 0.0 && exp(1e30).is_finite());
    }

    #[test]
    fn sigmoid_matches_libm() {
        let worst = grid()
            .map(|x| error(sigmoid(x), 1.0 / (1.0 + (-f64::from(x)).exp())))
            .fold(0.0, f64::max);
        assert!(worst < 5e-7, "worst error {worst}");
    }

    #[test]
    fn tanh_matches_libm() {
        let worst = grid()
            .map(|x| error(tanh(x), f64::from(x).tanh()))
            .fold(0.0, f64::max);
        assert!(worst < 5e-7, "worst error {worst}");
    }

    #[test]
    fn tanh_is_odd_and_saturates() {
        for x in [0.01f32, 0.3, 2.0, 9.0] {
            assert_eq!(tanh(-x), -tanh(x));
        }
        assert_eq!(tanh(50.0), 1.0);
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(sigmoid(200.0), 1.0);
        assert!((0.0..1e-30).contains(&sigmoid(-200.0)));
    }
}
