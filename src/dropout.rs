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
        let keep = 1.0 - self.p;
        let scale = 1.0 / keep;
        let mask: Vec<f32> = (0..xs.elem_count())
            .map(|_| {
                if self.rng.random::<f32>() < keep {
                    scale
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        xs.mul(&mask)
    }
}
