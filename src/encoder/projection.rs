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
//! With hashed bigrams ([`crate::ngram`]) x is a word vector plus a bucket vector, and x W_ih^T
//! the word's row plus the bucket's: a second table keeps bucket rows, each worked out as a
//! product of its own (so again a text's result does not depend on what is kept). Bucket
//! numbers follow no order of frequency, so that table keeps a bucket's row in slot
//! `bucket mod slots`, when the slot is free and the bucket is the one whose row the slot saw
//! worked out last: the first buckets met twice in a row at their slot take the slots.
//!
//! No lock is held while rows are computed or read (a row, once set, never changes): a thread
//! inside rayon's pool that waited on a lock could be waiting on work it stole itself.

use super::products::{View, ViewMut, Weight};
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The first layer's rows of one table (words or bigram buckets), per direction and id.
/// Shared by clones of a model.
pub struct WordProjections {
    /// gates * hidden: the width of a row.
    width: usize,
    /// Whether any id may take slot `id mod slots` (bucket tables), or only ids below the
    /// number of slots their own (word tables).
    hashed: bool,
    /// `[direction][slot]`: a kept row and its id.
    kept: Vec<Vec<Slot>>,
    /// `[direction][slot]`: 1 + the id whose row the slot saw worked out last; 0: none yet.
    seen: Vec<Vec<AtomicU32>>,
}

/// A kept row and the id it belongs to, set once.
type Slot = OnceLock<(u32, Box<[f32]>)>;

/// One table read by id: what the kernel reads in place of its part of x.
#[derive(Clone, Copy)]
pub struct Lookup<'a> {
    /// (time, batch) in the direction's order.
    pub ids: &'a [u32],
    pub table: &'a WordProjections,
    /// The table's vectors, (ids, dim), for rows not kept.
    pub embedding: &'a [f32],
}

/// The first layer's words for one direction: what the kernel reads in place of x.
#[derive(Clone, Copy)]
pub struct Words<'a> {
    pub words: Lookup<'a>,
    /// The bigram buckets of the same positions, whose rows add to the words'.
    pub ngrams: Option<Lookup<'a>>,
    /// 0 forward, 1 backward.
    pub dir: usize,
    pub dim: usize,
}

impl WordProjections {
    /// Room for up to `max_bytes` of rows (all directions together), over `vocab` ids. Each
    /// id's slots count too, made up front whether or not its rows are ever kept.
    pub fn new(vocab: usize, width: usize, directions: usize, max_bytes: usize) -> Self {
        Self::with_slots(vocab, width, directions, max_bytes, false)
    }

    /// As [`new`](Self::new) for a table of bigram buckets: when the budget holds fewer
    /// slots than there are buckets, any bucket may take a free slot.
    pub fn hashed(buckets: usize, width: usize, directions: usize, max_bytes: usize) -> Self {
        Self::with_slots(buckets, width, directions, max_bytes, true)
    }

    fn with_slots(ids: usize, width: usize, dirs: usize, max_bytes: usize, hashed: bool) -> Self {
        let slots = ids.min(max_bytes / id_bytes(width, dirs).max(1));
        let table = || (0..slots).map(|_| OnceLock::new()).collect();
        let seen = || (0..slots).map(|_| AtomicU32::new(0)).collect();
        Self {
            width,
            hashed,
            kept: (0..dirs).map(|_| table()).collect(),
            seen: (0..dirs).map(|_| seen()).collect(),
        }
    }

    /// The most bytes this table's rows and slots take once full.
    pub fn max_bytes(&self) -> usize {
        let slots = self.kept.first().map_or(0, Vec::len);
        slots * id_bytes(self.width, self.kept.len())
    }

    /// The slot of `id`, where it has one.
    fn slot(&self, dir: usize, id: u32) -> Option<usize> {
        let (id, slots) = (id as usize, self.kept[dir].len());
        match self.hashed {
            true if slots > 0 => Some(id % slots),
            _ => (id < slots).then_some(id),
        }
    }

    /// x W_ih^T of `id` in direction `dir`, where it is kept.
    pub fn row(&self, dir: usize, id: u32) -> Option<&[f32]> {
        let (owner, row) = self.kept[dir][self.slot(dir, id)?].get()?;
        (*owner == id).then_some(&**row)
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
        let slots = self.kept.first().map_or(0, Vec::len);
        write!(f, "WordProjections {{ slots: {slots}, rows kept: {set} }}")
    }
}

impl Words<'_> {
    /// The input side of a block of steps into `gi` (steps, batch, width), for the rows running
    /// at each step: each word's row, plus its bucket's with bigrams. `scratch` serves from
    /// block to block.
    pub fn fill(
        &self,
        block: Range<usize>,
        active: &[usize],
        gi: &mut [f32],
        w_ih_t: &Weight,
        scratch: &mut Scratch,
    ) {
        let (dir, dim) = (self.dir, self.dim);
        (self.words).rows::<false>(dir, dim, block.clone(), active, gi, w_ih_t, scratch);
        if let Some(ngrams) = &self.ngrams {
            ngrams.rows::<true>(dir, dim, block, active, gi, w_ih_t, scratch);
        }
    }
}

impl Lookup<'_> {
    /// Writes (or with `ADD` adds) the table's row of every running position into `gi`: kept
    /// rows copied, the others as one product with `w_ih_t` (f32), kept when their slot is
    /// free and saw the same id's row worked out last.
    #[allow(clippy::too_many_arguments)]
    fn rows<const ADD: bool>(
        &self,
        dir: usize,
        dim: usize,
        block: Range<usize>,
        active: &[usize],
        gi: &mut [f32],
        w_ih_t: &Weight,
        scratch: &mut Scratch,
    ) {
        let width = self.table.width;
        let batch = gi.len() / (block.len() * width).max(1);
        let put = |to: &mut [f32], row: &[f32]| match ADD {
            true => to.iter_mut().zip(row).for_each(|(g, r)| *g += r),
            false => to.copy_from_slice(row),
        };
        let Scratch { missing, x, rows } = scratch;
        missing.clear();
        for ((i, t), &n) in block.enumerate().zip(active) {
            for (b, &id) in self.ids[t * batch..t * batch + n].iter().enumerate() {
                let at = (i * batch + b) * width;
                match self.table.row(dir, id) {
                    Some(row) => put(&mut gi[at..at + width], row),
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
        let (kept, seen) = (&self.table.kept[dir], &self.table.seen[dir]);
        for (&(at, id), row) in missing.iter().zip(rows.chunks_exact(width)) {
            put(&mut gi[at..at + width], row);
            if let Some(slot) = self.table.slot(dir, id) {
                // Ids are below 2^31: 1 + id never wraps.
                if seen[slot].swap(id + 1, Ordering::Relaxed) == id + 1 {
                    // Set once: another id (or thread) may have taken the slot meanwhile.
                    let _ = kept[slot].set((id, row.into()));
                }
            }
        }
    }
}

/// Buffers [`Words::fill`] keeps from one block to the next.
#[derive(Default)]
pub struct Scratch {
    /// (offset in gi, id) of the rows not kept.
    missing: Vec<(usize, u32)>,
    /// Their vectors and their rows.
    x: Vec<f32>,
    rows: Vec<f32>,
}

/// What keeping one id's rows takes: the rows and their slots.
fn id_bytes(width: usize, directions: usize) -> usize {
    use std::mem::size_of;
    let slot = size_of::<Slot>() + size_of::<AtomicU32>();
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
            let lookup = Lookup {
                ids: &ids,
                table: &table,
                embedding: &embedding,
            };
            let words = Words {
                words: lookup,
                ngrams: None,
                dir: 1,
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

    /// With buckets each position gets its word's row plus its bucket's; a bucket table
    /// with fewer slots than buckets keeps a bucket met twice in a row at its slot, and the
    /// buckets sharing that slot are worked out again, to the same values.
    #[test]
    fn bucket_rows_add_to_word_rows_and_share_slots_by_remainder() {
        let (vocab, buckets, dim, width, batch) = (6, 10, 3, 4, 2);
        let embedding = values(vocab * dim, 1);
        let bucket_vectors = values(buckets * dim, 5);
        let w1 = values(width * dim, 2);
        let words_table = WordProjections::new(vocab, width, 1, 0);
        // Three slots: buckets 1, 4 and 7 share slot 1.
        let table = WordProjections::hashed(buckets, width, 1, 3 * id_bytes(width, 1));
        let ids = [1, 2, 3, 4];
        let bucket_ids = [4, 7, 1, 4];
        let w_ih_t = Weight::new(View::dense(&w1, width, dim).t(), false);
        for round in 0..3 {
            let words = Words {
                words: Lookup {
                    ids: &ids,
                    table: &words_table,
                    embedding: &embedding,
                },
                ngrams: Some(Lookup {
                    ids: &bucket_ids,
                    table: &table,
                    embedding: &bucket_vectors,
                }),
                dir: 0,
                dim,
            };
            let mut gi = vec![f32::NAN; 2 * batch * width];
            words.fill(0..2, &[2, 2], &mut gi, &w_ih_t, &mut Scratch::default());
            for r in 0..4 {
                let word = naive(&embedding, &w1, dim, ids[r]);
                let bucket = naive(&bucket_vectors, &w1, dim, bucket_ids[r]);
                let want: Vec<f32> = word.iter().zip(&bucket).map(|(a, b)| a + b).collect();
                assert!(
                    close(&gi[r * width..(r + 1) * width], &want),
                    "round {round}, row {r}"
                );
            }
            // Slot 1 saw 4, 7, 1, 4 in the first call and 4 first in the second: 4 took it.
            assert_eq!(table.row(0, 4).is_some(), round > 0, "round {round}");
            assert!(table.row(0, 7).is_none() && table.row(0, 1).is_none());
        }
        assert!(words_table.row(0, 1).is_none(), "no room for words");
    }
}
