//! Dropout with masks drawn from the training run's own seeded generator.
//!
//! candle's `ops::dropout` draws from the device generator, which cannot be seeded on the
//! CPU; a run must be reproducible from its seed, so the masks come from here instead.

use candle_core::{Result, Tensor};
use rand::rngs::StdRng;
use rand::Rng;

/// Zeroes each element with probability `p` and scales the rest by 1 / (1 - p).
pub struct Dropout<'a> {
    p: f32,
    rng: &'a mut StdRng,
}

impl<'a> Dropout<'a> {
    pub fn new(p: f32, rng: &'a mut StdRng) -> Self {
        Self { p, rng }
    }

    pub fn apply(&mut self, xs: &Tensor) -> Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(xs.clone());
        }
        let mask = mask(self.rng, xs.elem_count(), 1.0 - self.p);
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        xs.mul(&mask)
    }
}

/// `n` elements, each 1 / keep with probability `keep`, else 0: the same draws as one
/// `rng.random::<f32>() < keep` per element (the top 24 bits of a u32 as a fraction), taken in
/// bulk, which is several times faster and gives a seed the same masks.
fn mask(rng: &mut StdRng, n: usize, keep: f32) -> Vec<f32> {
    let mut words = vec![0u32; n];
    rng.fill(&mut words[..]);
    let scale = 1.0 / keep;
    let unit = 1.0 / (1u32 << 24) as f32;
    words
        .into_iter()
        .map(|w| {
            if (w >> 8) as f32 * unit < keep {
                scale
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn bulk_masks_repeat_the_per_element_draws() {
        let (mut bulk, mut single) = (StdRng::seed_from_u64(3), StdRng::seed_from_u64(3));
        // Other draws in between, as training makes them (shuffles, other masks).
        for n in [5, 1000, 17, 4096] {
            let keep = 0.7;
            let one_by_one: Vec<f32> = (0..n)
                .map(|_| {
                    if single.random::<f32>() < keep {
                        1.0 / keep
                    } else {
                        0.0
                    }
                })
                .collect();
            assert_eq!(mask(&mut bulk, n, keep), one_by_one);
            assert_eq!(bulk.random::<u64>(), single.random::<u64>());
        }
    }
}
