//! The Huffman tree of hierarchical softmax, built as word2vec.c builds it: frequent words get
//! short codes, so they cost few updates.

/// Per word, the inner nodes on its path from the root and the branch taken at each.
pub(super) struct Huffman {
    codes: Vec<u8>,
    points: Vec<u32>,
    /// Word `w`'s path is `offsets[w]..offsets[w + 1]` in `codes` and `points`.
    offsets: Vec<usize>,
}

impl Huffman {
    /// `counts` must be in descending order, as the vocabulary is. Inner node `i` is row `i` of
    /// the output weights; there are `counts.len() - 1` of them.
    pub fn new(counts: &[u64]) -> Self {
        let v = counts.len();
        let mut tree = Huffman {
            codes: Vec::new(),
            points: Vec::new(),
            offsets: vec![0; v + 1],
        };
        if v < 2 {
            return tree;
        }
        // Leaves are 0..v, inner nodes v..2v-1 in the order they are made, which is also
        // ascending count: the two smallest are always at the ends of the two runs.
        let mut count: Vec<u64> = counts.to_vec();
        count.resize(2 * v - 1, u64::MAX);
        let mut parent = vec![0usize; 2 * v - 1];
        let mut branch = vec![0u8; 2 * v - 1];
        let (mut leaf, mut inner) = (v, v);
        let mut smallest = |count: &[u64]| {
            if leaf > 0 && count[leaf - 1] < count[inner] {
                leaf -= 1;
                leaf
            } else {
                inner += 1;
                inner - 1
            }
        };
        for node in v..2 * v - 1 {
            let first = smallest(&count);
            let second = smallest(&count);
            count[node] = count[first].saturating_add(count[second]);
            parent[first] = node;
            parent[second] = node;
            branch[second] = 1;
        }
        let root = 2 * v - 2;
        let mut path = Vec::new();
        for word in 0..v {
            path.clear();
            let mut node = word;
            while node != root {
                path.push(node);
                node = parent[node];
            }
            // From the root down: the node deciding each step, and the branch it takes.
            for (depth, &child) in path.iter().rev().enumerate() {
                let decider = if depth == 0 {
                    root
                } else {
                    path[path.len() - depth]
                };
                tree.points.push((decider - v) as u32);
                tree.codes.push(branch[child]);
            }
            tree.offsets[word + 1] = tree.codes.len();
        }
        tree
    }

    /// The (inner node, branch) pairs on `word`'s path.
    pub fn path(&self, word: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let range = self.offsets[word as usize]..self.offsets[word as usize + 1];
        self.points[range.clone()]
            .iter()
            .copied()
            .zip(self.codes[range].iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_prefix_free_and_frequent_words_short() {
        let counts = [50u64, 20, 15, 10, 5];
        let tree = Huffman::new(&counts);
        let codes: Vec<Vec<u8>> = (0..5)
            .map(|w| tree.path(w).map(|(_, c)| c).collect())
            .collect();
        for (i, a) in codes.iter().enumerate() {
            for (j, b) in codes.iter().enumerate() {
                assert!(i == j || !b.starts_with(a), "{a:?} prefixes {b:?}");
            }
        }
        assert_eq!(codes[0].len(), 1);
        assert!(codes[4].len() >= codes[1].len());
        // Every path starts at the root, the last inner node.
        assert!((0..5).all(|w| tree.path(w).next().unwrap().0 == 3));
    }

    #[test]
    fn one_word_has_no_path() {
        assert_eq!(Huffman::new(&[3]).path(0).count(), 0);
    }
}
