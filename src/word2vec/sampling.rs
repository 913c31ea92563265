//! The random parts of training: a fast seeded generator, the noise distribution for negative
//! samples, sub-sampling of frequent words, and word2vec.c's table of the logistic function.

/// wyrand: one multiply per draw, good enough statistically for sampling, and fixed forever, so
/// a seed means the same run on every platform and crate version.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Uniform in `0..n` (by multiply-shift; the bias is below 2^-32 for any vocabulary).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in [-0.5, 0.5).
    pub fn centered(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

/// Draws word ids with probability proportional to count^0.75 (word2vec.c's noise
/// distribution) in O(1) by Vose's alias method: the same distribution as word2vec.c's 10^8-entry
/// table, in two arrays the size of the vocabulary.
pub(crate) struct Noise {
    /// Chance (scaled to 2^32) of keeping the drawn slot rather than taking its alias.
    keep: Vec<u32>,
    alias: Vec<u32>,
}

impl Noise {
    pub fn new(counts: &[u64]) -> Self {
        let n = counts.len();
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let mut keep = vec![u32::MAX; n];
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            keep[s] = (scaled[s] * 4_294_967_296.0) as u32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left on either list has scaled weight 1 up to rounding: it keeps its slot.
        Noise { keep, alias }
    }

    pub fn sample(&self, rng: &mut Rng) -> u32 {
        let r = rng.next_u64();
        // High bits pick the slot, low bits decide between it and its alias.
        let slot = (((r >> 32) * self.keep.len() as u64) >> 32) as usize;
        if (r as u32) < self.keep[slot] {
            slot as u32
        } else {
            self.alias[slot]
        }
    }
}

/// Per word, the chance (scaled to 2^32) of keeping an occurrence: word2vec.c's
/// `(sqrt(f / t) + 1) * t / f` for a word making up fraction `f` of the corpus, capped at 1.
pub(super) fn keep_thresholds(counts: &[u64], sample: f64) -> Vec<u64> {
    let total: u64 = counts.iter().sum();
    let threshold = sample * total as f64;
    counts
        .iter()
        .map(|&count| {
            let keep = if sample > 0.0 && count > 0 {
                ((count as f64 / threshold).sqrt() + 1.0) * threshold / count as f64
            } else {
                1.0
            };
            (keep.min(1.0) * 4_294_967_296.0) as u64
        })
        .collect()
}

/// The logistic function tabulated on (-MAX_EXP, MAX_EXP), as word2vec.c and gensim do: the
/// table is faster than `exp`, and its coarseness is part of the algorithm's known behaviour.
pub(super) const MAX_EXP: f32 = 6.0;
const TABLE_SIZE: usize = 1000;

pub(super) struct Sigmoid(Vec<f32>);

impl Sigmoid {
    pub fn new() -> Self {
        Sigmoid(
            (0..TABLE_SIZE)
                .map(|i| {
                    let x = (i as f32 / TABLE_SIZE as f32 * 2.0 - 1.0) * MAX_EXP;
                    1.0 / (1.0 + (-x).exp())
                })
                .collect(),
        )
    }

    /// sigma(x) for |x| < MAX_EXP; callers handle the tails themselves, as word2vec.c does.
    pub fn get(&self, x: f32) -> f32 {
        let i = ((x + MAX_EXP) * (TABLE_SIZE as f32 / MAX_EXP / 2.0)) as usize;
        self.0[i.min(TABLE_SIZE - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_follows_count_to_the_three_quarters() {
        let counts = [16u64, 1, 81, 0];
        let noise = Noise::new(&counts);
        let mut rng = Rng::new(7);
        let mut seen = [0usize; 4];
        let draws = 200_000;
        for _ in 0..draws {
            seen[noise.sample(&mut rng) as usize] += 1;
        }
        // 16^0.75 = 8, 1, 81^0.75 = 27, 0: shares 8/36, 1/36, 27/36, 0.
        for (i, expected) in [8.0, 1.0, 27.0, 0.0].iter().enumerate() {
            let share = seen[i] as f64 / draws as f64;
            assert!((share - expected / 36.0).abs() < 0.01, "{i}: {share}");
        }
    }

    #[test]
    fn frequent_words_are_kept_less_often() {
        let keep = keep_thresholds(&[1_000_000, 10, 1], 1e-3);
        assert!(keep[0] < 1 << 30);
        assert_eq!(keep[1], 1 << 32);
        assert_eq!(keep_thresholds(&[5, 5], 0.0), [1 << 32, 1 << 32]);
    }

    #[test]
    fn sigmoid_table_is_close() {
        let sigmoid = Sigmoid::new();
        for x in [-5.9f32, -1.0, 0.0, 0.5, 5.9] {
            assert!((sigmoid.get(x) - 1.0 / (1.0 + (-x).exp())).abs() < 0.01);
        }
    }
}
