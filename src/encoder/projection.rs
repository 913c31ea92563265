//! Prediction's shortcut through the first layer: the input side of its gates, x W_ih^T,
//! depends on the word alone, so a word's row can be worked out once and kept. A text whose
//! words are kept costs only its recurrent products: a third less work for LSTM 256 on
//! 128-dimensional words, half for the built-in LSTM 128.
//!
//! A word's row is worked out with the other input rows of its step, and kept from the second
//! time it is worked out: keeping a row costs about as much as working it out (an allocation,
//! fresh memory, a copy), and words met once, half of the distinct words of a typical text but
//! few of its tokens, would pay that for nothing. Only ids below a limit set by a memory budget
//! are kept; vocabularies built here put ids in order of word count, so these are the most
//! frequent words. Each kept row is its own small allocation, so only words kept take memory.
//!
//! A kept row is the row as worked out with its step (gemm on W_ih^T laid out as for the input
//! product of vectors, in f32 even when the recurrence multiplies in bfloat16), and gemm's
//! result for a row does not depend on the other rows of the product, so a text's result does
//! not depend on which of its words were kept (tests/integration/kernel.rs checks it against the
//! vectors path bit for bit). Rows hold no bias: the recurrence adds the biases to every row,
//! kept or not.
//!
//! No lock is held while rows are computed or read (a row, once set, never changes): a thread
//! inside rayon's pool that waited on a lock could be waiting on work it stole itself.

use super::products::{View, ViewMut, Weight};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The first layer's word rows, per direction and id. Shared by clones of a model.
pub struct WordProjections {
    /// gates * hidden: the width of a row.
    width: usize,
    /// `[direction][id]` for ids below the limit.
    kept: Vec<Vec<OnceLock<Box<[f32]>>>>,
    /// `[direction][id]`: whether the row was worked out before.
    seen: Vec<Vec<AtomicBool>>,
}

/// The first layer's words for one direction: what the kernel reads in place of x.
#[derive(Clone, Copy)]
pub struct Words<'a> {
    /// (time, batch) in the direction's order.
    pub ids: &'a [u32],
    pub table: &'a WordProjections,
    /// 0 forward, 1 backward.
    pub dir: usize,
    /// The embedding, (vocab, dim), for words not kept.
    pub embedding: &'a [f32],
    pub dim: usize,
}

impl WordProjections {
    /// Room for up to `max_bytes` of rows (all directions together), over `vocab` ids. Each
    /// id's slots count too, made up front whether or not its rows are ever kept.
    pub fn new(vocab: usize, width: usize, directions: usize, max_bytes: usize) -> Self {
        let kept = vocab.min(max_bytes / id_bytes(width, directions).max(1));
        let table = || (0..kept).map(|_| OnceLock::new()).collect();
        let seen = || (0..kept).map(|_| AtomicBool::new(false)).collect();
        Self {
            width,
            kept: (0..directions).map(|_| table()).collect(),
            seen: (0..directions).map(|_| seen()).collect(),
        }
    }

    /// x W_ih^T of word `id` in direction `dir`, where it is kept.
    pub fn row(&self, dir: usize, id: u32) -> Option<&[f32]> {
        Some(self.kept[dir].get(id as usize)?.get()?)
    }
}

impl std::fmt::Debug for WordProjections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self
            .kept
            .iter()
            .flatten()
            .filter(|r| r.get().is_some())
            .count();
        let ids = self.kept.first().map_or(0, Vec::len);
        write!(f, "WordProjections {{ ids: {ids}, rows kept: {set} }}")
    }
}

impl Words<'_> {
    /// The input side of a block of steps into `gi` (steps, batch, width), for the rows running
    /// at each step: kept rows copied, the others as one product with `w_ih_t` (f32), kept when
    /// worked out before and below the limit. `scratch` serves from block to block.
    pub fn fill(
        &self,
        block: Range<usize>,
        active: &[usize],
        gi: &mut [f32],
        w_ih_t: &Weight,
        scratch: &mut Scratch,
    ) {
        let (width, dim) = (self.table.width, self.dim);
        let batch = gi.len() / (block.len() * width).max(1);
        let Scratch { missing, x, rows } = scratch;
        missing.clear();
        for ((i, t), &n) in block.enumerate().zip(active) {
            for (b, &id) in self.ids[t * batch..t * batch + n].iter().enumerate() {
                let at = (i * batch + b) * width;
                match self.table.row(self.dir, id) {
                    Some(row) => gi[at..at + width].copy_from_slice(row),
                    None => missing.push((at, id)),
                }
            }
        }
        if missing.is_empty() {
            return;
        }
        x.clear();
        for &(_, id) in missing.iter() {
            x.extend_from_slice(&self.embedding[id as usize * dim..][..dim]);
        }
        let n = missing.len();
        // Grown, never shrunk: the product writes every element it is given.
        if rows.len() < n * width {
            rows.resize(n * width, 0.0);
        }
        let rows = &mut rows[..n * width];
        w_ih_t.product(ViewMut::dense(rows, n, width), View::dense(x, n, dim));
        let (kept, seen) = (&self.table.kept[self.dir], &self.table.seen[self.dir]);
        for (&(at, id), row) in missing.iter().zip(rows.chunks_exact(width)) {
            gi[at..at + width].copy_from_slice(row);
            let id = id as usize;
            if id < kept.len() && seen[id].swap(true, Ordering::Relaxed) {
                // Set once, should another thread set it meanwhile.
                let _ = kept[id].set(row.into());
            }
        }
    }
}

/// Buffers [`Words::fill`] keeps from one block to the next.
#[derive(Default)]
pub struct Scratch {
    /// (offset in gi, id) of the rows not kept.
    missing: Vec<(usize, u32)>,
    /// Their word vectors and their rows.
    x: Vec<f32>,
    rows: Vec<f32>,
}

/// What keeping one id's rows takes: the rows and their slots.
fn id_bytes(width: usize, directions: usize) -> usize {
    use std::mem::size_of;
    let slot = size_of::<OnceLock<Box<[f32]>>>() + size_of::<AtomicBool>();
    directions * (width * size_of::<f32>() + slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i * 7 + seed * 13) % 17) as f32 / 17.0 - 0.5)
            .collect()
    }

    /// embedding[id] . w_ih[j], the textbook way.
    fn naive(embedding: &[f32], w_ih: &[f32], dim: usize, id: u32) -> Vec<f32> {
        let x = &embedding[id as usize * dim..][..dim];
        (w_ih.chunks_exact(dim))
            .map(|w| x.iter().zip(w).map(|(a, b)| a * b).sum())
            .collect()
    }

    fn close(got: &[f32], want: &[f32]) -> bool {
        got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-5)
    }

    #[test]
    fn every_running_row_is_filled_and_words_met_twice_below_the_limit_are_kept() {
        let (vocab, dim, width, batch) = (10, 4, 4, 3);
        let embedding = values(vocab * dim, 4);
        let w1 = values(width * dim, 6);
        // Two directions, room for ids 0 to 4 in both.
        let table = WordProjections::new(vocab, width, 2, 5 * id_bytes(width, 2));
        // (time 2, batch 3): 2 twice, 7 above the limit; step 1 runs two texts.
        let ids = [1, 2, 7, 2, 9, 0];
        for round in 0..2 {
            let words = Words {
                ids: &ids,
                table: &table,
                dir: 1,
                embedding: &embedding,
                dim,
            };
            let w_ih_t = Weight::new(View::dense(&w1, width, dim).t(), false);
            let mut gi = vec![f32::NAN; 2 * batch * width];
            words.fill(0..2, &[3, 2], &mut gi, &w_ih_t, &mut Scratch::default());
            for (r, &id) in ids.iter().enumerate() {
                let got = &gi[r * width..(r + 1) * width];
                if r == 5 {
                    assert!(got.iter().all(|v| v.is_nan()), "row {r} is past its text");
                } else {
                    let want = naive(&embedding, &w1, dim, id);
                    assert!(close(got, &want), "round {round}, row {r}");
                }
            }
            // 2 came twice in the first round, 1 once in each; 0 ran past its text.
            let kept: &[u32] = if round == 0 { &[2] } else { &[1, 2] };
            for id in 0..vocab as u32 {
                assert_eq!(table.row(1, id).is_some(), kept.contains(&id), "id {id}");
                assert!(table.row(0, id).is_none(), "direction 0 never ran");
            }
        }
    }
}
