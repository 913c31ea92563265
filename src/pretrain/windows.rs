//! Unlabelled texts as the network sees them: token ids cut into windows, a held-out part for
//! perplexity, and the counts the negative samples are drawn from.

use crate::error::{Error, Result};
use crate::tokenizer::TextTokenizer;
use crate::train::Fingerprint;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Texts cut into windows of at most `max_length` tokens.
pub(super) struct Windows {
    pub ids: Vec<Vec<u32>>,
}

impl Windows {
    /// Each text's tokens in consecutive windows of `max_length`: a long review becomes several
    /// windows and none of its tokens is lost. Windows shorter than two tokens predict nothing
    /// and are left out (a text's last window keeps whatever is left when that is two or more).
    pub fn cut(texts: &[Vec<u32>], max_length: usize) -> Self {
        let ids = texts
            .iter()
            .flat_map(|t| t.chunks(max_length))
            .filter(|w| w.len() >= 2)
            .map(<[u32]>::to_vec)
            .collect();
        Self { ids }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn tokens(&self) -> usize {
        self.ids.iter().map(Vec::len).sum()
    }

    /// How often each id occurs, over a vocabulary of `vocab` ids.
    pub fn counts(&self, vocab: usize) -> Vec<u64> {
        let mut counts = vec![0u64; vocab];
        for &id in self.ids.iter().flatten() {
            counts[id as usize] += 1;
        }
        counts
    }
}

/// Which texts train and which are held out: `heldout` of them (at most `max_heldout`) chosen
/// by `seed`; a single text is never held out.
pub(super) fn split_heldout(
    count: usize,
    heldout: f64,
    max_heldout: usize,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..count).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let held = ((count as f64 * heldout).round() as usize)
        .min(max_heldout)
        .min(count.saturating_sub(1));
    let (held, train) = order.split_at(held);
    let (mut held, mut train) = (held.to_vec(), train.to_vec());
    held.sort_unstable();
    train.sort_unstable();
    (train, held)
}

/// Token ids of every text, whole (no truncation).
pub(super) fn encode_all<S: AsRef<str>>(
    tokenizer: &TextTokenizer,
    texts: &[S],
) -> Result<Vec<Vec<u32>>> {
    let texts: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
    tokenizer.encode_batch(&texts, usize::MAX)
}

/// A stable fingerprint of the texts, so that a resume on other text is refused.
pub(super) fn fingerprint<S: AsRef<str>>(texts: &[S]) -> u64 {
    let mut h = Fingerprint::new();
    for t in texts {
        h.feed(t.as_ref().as_bytes());
        h.feed(&[0]);
    }
    h.value()
}

/// Refuses a corpus that leaves nothing to train on.
pub(super) fn check_enough(windows: &Windows, texts: usize) -> Result<()> {
    if windows.len() == 0 {
        return Err(Error::Config(format!(
            "the {texts} training text(s) hold no run of two or more tokens to learn from"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_token_of_long_texts() {
        let texts = vec![(0..10).collect::<Vec<u32>>(), vec![7], vec![1, 2, 3]];
        let w = Windows::cut(&texts, 4);
        assert_eq!(
            w.ids,
            vec![
                vec![0, 1, 2, 3],
                vec![4, 5, 6, 7],
                vec![8, 9],
                vec![1, 2, 3]
            ]
        );
        assert_eq!(w.tokens(), 13);
        assert_eq!(w.counts(10)[1], 2);
    }

    #[test]
    fn the_held_out_part_is_bounded_and_never_everything() {
        let (train, held) = split_heldout(1000, 0.01, 500, 1);
        assert_eq!((train.len(), held.len()), (990, 10));
        let (_, held) = split_heldout(100_000, 0.1, 500, 1);
        assert_eq!(held.len(), 500);
        let (train, held) = split_heldout(1, 0.5, 500, 1);
        assert_eq!((train.len(), held.len()), (1, 0));
    }
}
