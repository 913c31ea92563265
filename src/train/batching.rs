//! How training data is cut into batches, each epoch's generator, and the data's fingerprint.

use crate::data::Example;
use crate::dropout::Generator;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Shuffled batches of similar lengths: shuffle, sort pools of 32 batches by length, cut, shuffle
/// the batches. Little padding, yet every epoch sees a new order.
pub(crate) fn length_buckets(
    ids: &[Vec<u32>],
    batch_size: usize,
    rng: &mut Generator,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.shuffle(rng);
    let mut batches = Vec::new();
    for pool in order.chunks(batch_size * 32) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| ids[i].len());
        batches.extend(pool.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

/// The generator for one epoch's shuffling and dropout. Deriving it from (seed, epoch) rather
/// than carrying one generator through the run lets a resumed run draw exactly what an
/// uninterrupted one would.
pub(crate) fn epoch_rng(seed: u64, epoch: usize) -> Generator {
    Generator::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A stable fingerprint of the data (FNV-1a), so a resume on other data is refused.
pub(super) fn fingerprint(sets: &[&[Example]]) -> u64 {
    let mut h = Fingerprint::new();
    for set in sets {
        for e in *set {
            h.feed(e.label.as_bytes());
            h.feed(&[0]);
            h.feed(e.text.as_bytes());
            h.feed(&[1]);
        }
        h.feed(&[2]);
    }
    h.value()
}

/// FNV-1a over bytes: stable across platforms and versions, which a checkpoint needs.
pub(crate) struct Fingerprint(u64);

impl Fingerprint {
    pub(crate) fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn value(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_example_once() {
        let ids: Vec<Vec<u32>> = (0..100).map(|i| vec![0; i % 13]).collect();
        let mut rng = epoch_rng(1, 1);
        let mut seen: Vec<usize> = length_buckets(&ids, 8, &mut rng).concat();
        seen.sort();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }
}
