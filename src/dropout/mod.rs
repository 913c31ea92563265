//! Dropout with masks drawn from the training run's own seeded generator.
//!
//! candle's `ops::dropout` draws from the device generator, which cannot be seeded on the
//! CPU; a run must be reproducible from its seed, so the masks come from here instead.
//!
//! The generator is ChaCha12 (what `StdRng` is, seeded the same way), a keystream whose every
//! word can be computed from the key and its position. On a CUDA GPU a kernel computes each
//! mask element from its own word of that stream ([`cuda`]) and the host only moves the
//! generator past them: the masks are the ones the CPU would draw, so a seed gives the same
//! run on either device, and nothing is drawn or copied on the host.

#[cfg(feature = "cuda")]
mod cuda;

use candle_core::{Result, Tensor};
use rand::Rng;

/// The generator of a run's shuffles and masks. `Generator::seed_from_u64(s)` gives the same
/// stream as `StdRng::seed_from_u64(s)`.
pub type Generator = rand_chacha::ChaCha12Rng;

/// Zeroes each element with probability `p` and scales the rest by 1 / (1 - p); word vectors
/// may have a rate of their own.
pub struct Dropout<'a> {
    p: f32,
    embedding: f32,
    rng: &'a mut Generator,
}

impl<'a> Dropout<'a> {
    /// Rate `p` everywhere, word vectors included.
    pub fn new(p: f32, rng: &'a mut Generator) -> Self {
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

fn apply(rng: &mut Generator, p: f32, xs: &Tensor) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(xs.clone());
    }
    #[cfg(feature = "cuda")]
    if xs.device().is_cuda() {
        let mask = cuda::mask(rng, xs, 1.0 - p)?;
        return xs.mul(&mask.to_dtype(xs.dtype())?);
    }
    let mask = mask(rng, xs.elem_count(), 1.0 - p);
    let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
    xs.mul(&mask)
}

/// Word dropout: replaces each token of `texts` by `unk` with probability `p`, one draw per
/// token as [`mask`] draws them. `p` = 0 draws nothing, so the generator moves on as if there
/// were no word dropout.
pub fn drop_words(texts: &mut [Vec<u32>], p: f32, unk: u32, rng: &mut Generator) {
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
fn mask(rng: &mut Generator, n: usize, keep: f32) -> Vec<f32> {
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
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// A seed gives the stream `StdRng` gives.
    #[test]
    fn the_generator_is_std_rng_stream() {
        for seed in [0, 1, 42, u64::MAX] {
            let (mut ours, mut std) = (Generator::seed_from_u64(seed), StdRng::seed_from_u64(seed));
            for _ in 0..300 {
                assert_eq!(ours.random::<u32>(), std.random::<u32>());
            }
        }
    }

    #[test]
    fn bulk_masks_repeat_the_per_element_draws() {
        let (mut bulk, mut single) = (Generator::seed_from_u64(3), Generator::seed_from_u64(3));
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
        drop_words(&mut dropped, 0.2, 1, &mut Generator::seed_from_u64(9));
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
            drop_words(&mut t, 0.3, 1, &mut Generator::seed_from_u64(seed));
            t
        };
        assert_eq!(run(4), run(4));
        assert_ne!(run(4), run(5));

        let (mut used, mut fresh) = (Generator::seed_from_u64(4), Generator::seed_from_u64(4));
        let mut t = texts();
        drop_words(&mut t, 0.0, 1, &mut used);
        assert_eq!(t, texts());
        assert_eq!(used.random::<u64>(), fresh.random::<u64>());
    }

    /// ChaCha12's block function, as the CUDA kernel computes it: state words 12-13 the block
    /// counter, 14-15 the stream.
    fn block(key: [u32; 8], stream: u64, counter: u64) -> [u32; 16] {
        let mut s = [0u32; 16];
        s[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
        s[4..12].copy_from_slice(&key);
        s[12..].copy_from_slice(&[
            counter as u32,
            (counter >> 32) as u32,
            stream as u32,
            (stream >> 32) as u32,
        ]);
        let mut x = s;
        let qr = |x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize| {
            for (p, q, r, rot) in [(a, b, d, 16), (c, d, b, 12), (a, b, d, 8), (c, d, b, 7)] {
                x[p] = x[p].wrapping_add(x[q]);
                x[r] = (x[r] ^ x[p]).rotate_left(rot);
            }
        };
        for _ in 0..6 {
            for i in 0..4 {
                qr(&mut x, i, 4 + i, 8 + i, 12 + i);
            }
            for i in 0..4 {
                qr(
                    &mut x,
                    i,
                    4 + (i + 1) % 4,
                    8 + (i + 2) % 4,
                    12 + (i + 3) % 4,
                );
            }
        }
        std::array::from_fn(|i| x[i].wrapping_add(s[i]))
    }

    /// What the CUDA kernel relies on: word `w` of the stream is word `w % 16` of block
    /// `w / 16`, whatever was drawn before, and moving the word position skips exactly.
    #[test]
    fn stream_word_w_is_word_w_mod_16_of_block_w_div_16() {
        let mut rng = Generator::seed_from_u64(11);
        let _: [u32; 37] = rng.random();
        let key: [u32; 8] = std::array::from_fn(|i| {
            u32::from_le_bytes(rng.get_seed()[4 * i..4 * i + 4].try_into().unwrap())
        });
        let start = rng.get_word_pos();
        let words: Vec<u32> = (0..100).map(|_| rng.random()).collect();
        for (k, &word) in words.iter().enumerate() {
            let w = start + k as u128;
            let expected = block(key, rng.get_stream(), (w / 16) as u64)[(w % 16) as usize];
            assert_eq!(word, expected, "word {w}");
        }
        let mut skipped = Generator::seed_from_u64(11);
        skipped.set_word_pos(start + 100);
        assert_eq!(skipped.random::<u64>(), rng.random::<u64>());
    }

    /// scripts/dev/cuda_kernels/dropout.cpp checks the kernel against this seed's stream.
    #[test]
    fn the_stream_the_kernel_check_expects() {
        let mut rng = Generator::seed_from_u64(11);
        assert_eq!(rng.get_seed()[..8], 0x1c72_f9eb_e84c_fbc9u64.to_le_bytes());
        let words: [u32; 4] = rng.random();
        assert_eq!(words, [0x39dc_5783, 0x46a5_5c63, 0x8f12_5022, 0xc304_3aac]);
    }
}
