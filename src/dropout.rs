//! Dropout with masks drawn from the training run's own seeded generator.
//!
//! candle's `ops::dropout` draws from the device generator, which cannot be seeded on the
//! CPU; a run must be reproducible from its seed, so the masks come from here instead.

use candle_core::{Result, Tensor};
use rand::rngs::StdRng;
use rand::Rng;

/// Zeroes each element with probability `p` and scales the rest by 1 / (1 - p); word vectors
/// may have a rate of their own.
pub struct Dropout<'a> {
    p: f32,
    embedding: f32,
    rng: &'a mut StdRng,
}

impl<'a> Dropout<'a> {
    /// Rate `p` everywhere, word vectors included.
    pub fn new(p: f32, rng: &'a mut StdRng) -> Self {
        Self {
            p,
            embedding: p,
            rng,
        }
    }

    /// The same with rate `p` on word vectors.
    pub fn with_embedding(self, p: f32) -> Self {
        Self {
            embedding: p,
            ..self
        }
    }

    /// Dropout on word vectors (time, batch, dim).
    pub fn apply_embedding(&mut self, xs: &Tensor) -> Result<Tensor> {
        apply(self.rng, self.embedding, xs)
    }

    /// Dropout anywhere else: between layers, before the head.
    pub fn apply(&mut self, xs: &Tensor) -> Result<Tensor> {
        apply(self.rng, self.p, xs)
    }
}

fn apply(rng: &mut StdRng, p: f32, xs: &Tensor) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(xs.clone());
    }
    let mask = mask(rng, xs.elem_count(), 1.0 - p);
    let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
    xs.mul(&mask)
}

/// Word dropout: replaces each token of `texts` by `unk` with probability `p`, one draw per
/// token as [`mask`] draws them. `p` = 0 draws nothing, so the generator moves on as if there
/// were no word dropout.
pub fn drop_words(texts: &mut [Vec<u32>], p: f32, unk: u32, rng: &mut StdRng) {
    if p <= 0.0 {
        return;
    }
    for text in texts {
        let keep = mask(rng, text.len(), 1.0 - p);
        for (id, k) in text.iter_mut().zip(keep) {
            if k == 0.0 {
                *id = unk;
            }
        }
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

    fn texts() -> Vec<Vec<u32>> {
        (0..2000u32)
            .map(|i| (0..i % 97).map(|t| 2 + (i + t) % 500).collect())
            .collect()
    }

    #[test]
    fn word_dropout_replaces_tokens_by_unk_at_its_rate() {
        let original = texts();
        let mut dropped = original.clone();
        drop_words(&mut dropped, 0.2, 1, &mut StdRng::seed_from_u64(9));
        let (mut tokens, mut replaced) = (0usize, 0usize);
        for (a, b) in original.iter().zip(&dropped) {
            assert_eq!(a.len(), b.len(), "lengths stay");
            for (&x, &y) in a.iter().zip(b) {
                tokens += 1;
                if x != y {
                    assert_eq!(y, 1, "a dropped token becomes [UNK]");
                    replaced += 1;
                }
            }
        }
        let rate = replaced as f64 / tokens as f64;
        assert!((0.19..0.21).contains(&rate), "{rate} of {tokens} tokens");
    }

    #[test]
    fn word_dropout_follows_the_seed_and_draws_nothing_at_zero() {
        let run = |seed| {
            let mut t = texts();
            drop_words(&mut t, 0.3, 1, &mut StdRng::seed_from_u64(seed));
            t
        };
        assert_eq!(run(4), run(4));
        assert_ne!(run(4), run(5));

        let (mut used, mut fresh) = (StdRng::seed_from_u64(4), StdRng::seed_from_u64(4));
        let mut t = texts();
        drop_words(&mut t, 0.0, 1, &mut used);
        assert_eq!(t, texts());
        assert_eq!(used.random::<u64>(), fresh.random::<u64>());
    }
}
