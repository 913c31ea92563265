//! Cosine nearest neighbours and analogies, by a full scan: a query costs one pass over the
//! table, which is less than the time it took to read the file.

use super::embeddings::Embeddings;
use serde::Serialize;

/// A word and its cosine similarity to a query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbour {
    pub word: String,
    pub similarity: f32,
}

impl Embeddings {
    /// The `k` words closest to `word` by cosine similarity, most similar first, `word` itself
    /// left out. `None` when `word` has no vector.
    pub fn similar(&self, word: &str, k: usize) -> Option<Vec<Neighbour>> {
        let query = self.vector(word)?;
        Some(self.nearest(query, k, &[word]))
    }

    /// Answers "`a` is to `b` as `c` is to ?" with the words closest to `b - a + c` (each of the
    /// three unit-normalized first, as gensim's `most_similar` does), the three left out.
    /// `None` when one of them has no vector.
    pub fn analogy(&self, a: &str, b: &str, c: &str, k: usize) -> Option<Vec<Neighbour>> {
        let mut target = vec![0.0f32; self.dim()];
        for (word, sign) in [(a, -1.0f32), (b, 1.0), (c, 1.0)] {
            let vector = self.vector(word)?;
            let scale = sign / norm(vector).max(f32::MIN_POSITIVE);
            for (t, v) in target.iter_mut().zip(vector) {
                *t += scale * v;
            }
        }
        Some(self.nearest(&target, k, &[a, b, c]))
    }

    /// The `k` rows closest to `query` by cosine similarity, most similar first (ties in row
    /// order), skipping the words in `exclude` and rows of zero length, which have no direction.
    pub fn nearest(&self, query: &[f32], k: usize, exclude: &[&str]) -> Vec<Neighbour> {
        let query_norm = norm(query);
        if query.len() != self.dim() || query_norm == 0.0 || k == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(f32, usize)> = self
            .data()
            .chunks_exact(self.dim())
            .enumerate()
            .filter(|(i, _)| !exclude.contains(&self.words()[*i].as_str()))
            .filter_map(|(i, row)| {
                let row_norm = norm(row);
                let similarity = dot(query, row) / (query_norm * row_norm);
                (row_norm > 0.0 && similarity.is_finite()).then_some((similarity, i))
            })
            .collect();
        let order = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if scored.len() > k {
            scored.select_nth_unstable_by(k - 1, order);
            scored.truncate(k);
        }
        scored.sort_unstable_by(order);
        scored
            .into_iter()
            .map(|(similarity, i)| Neighbour {
                word: self.words()[i].clone(),
                similarity,
            })
            .collect()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}
