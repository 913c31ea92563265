//! Text -> vocabulary and word ids, tokenizing once: each thread interns its share of the texts
//! into local ids, then the counts are merged and the local ids mapped to the final ones.

use crate::error::{Error, Result};
use crate::tokenizer::TextTokenizer;
use std::collections::HashMap;

/// Texts longer than this are cut into pieces, as gensim does, so that the learning rate and
/// progress advance within a corpus written as one long line.
const MAX_SENTENCE: usize = 10_000;

/// The corpus as ids of the kept vocabulary; words below `min_count` are dropped from it.
pub(super) struct Corpus {
    /// Count descending, then word ascending: deterministic, and frequent words first as in
    /// every word2vec file.
    pub words: Vec<String>,
    pub counts: Vec<u64>,
    /// All sentences back to back.
    pub ids: Vec<u32>,
    /// Where each sentence ends in `ids`.
    pub ends: Vec<usize>,
}

/// One thread's share: its words in first-seen order, their counts, and its texts as local ids.
#[derive(Default)]
struct Local {
    words: Vec<String>,
    counts: Vec<u64>,
    ids: Vec<u32>,
    lengths: Vec<usize>,
}

impl Corpus {
    pub fn build<S: AsRef<str> + Sync>(
        texts: &[S],
        tokenizer: &TextTokenizer,
        min_count: u64,
        threads: usize,
    ) -> Result<Self> {
        let chunk = texts.len().div_ceil(threads.max(1)).max(1);
        let locals = std::thread::scope(|scope| {
            let handles = texts
                .chunks(chunk)
                .map(|part| {
                    std::thread::Builder::new()
                        .spawn_scoped(scope, move || intern(part, tokenizer))
                        .map_err(|e| Error::Config(format!("cannot start {threads} threads: {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Result<Vec<Local>>>()
        })?;

        let mut totals: HashMap<&str, u64> = HashMap::new();
        for local in &locals {
            for (word, &count) in local.words.iter().zip(&local.counts) {
                *totals.entry(word).or_default() += count;
            }
        }
        let mut kept: Vec<(&str, u64)> = totals
            .into_iter()
            .filter(|&(_, count)| count >= min_count)
            .collect();
        kept.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let final_id: HashMap<&str, u32> = kept
            .iter()
            .enumerate()
            .map(|(id, &(word, _))| (word, id as u32))
            .collect();

        let mut ids = Vec::new();
        let mut ends = Vec::new();
        for local in &locals {
            let remap: Vec<Option<u32>> = local
                .words
                .iter()
                .map(|w| final_id.get(w.as_str()).copied())
                .collect();
            let mut start = 0;
            for &length in &local.lengths {
                let text = &local.ids[start..start + length];
                start += length;
                let mut piece = 0;
                for id in text.iter().filter_map(|&local_id| remap[local_id as usize]) {
                    ids.push(id);
                    piece += 1;
                    if piece == MAX_SENTENCE {
                        ends.push(ids.len());
                        piece = 0;
                    }
                }
                if piece > 0 {
                    ends.push(ids.len());
                }
            }
        }
        let (words, counts) = kept.into_iter().map(|(w, c)| (w.to_string(), c)).unzip();
        Ok(Corpus {
            words,
            counts,
            ids,
            ends,
        })
    }
}

fn intern<S: AsRef<str>>(texts: &[S], tokenizer: &TextTokenizer) -> Result<Local> {
    let mut local = Local::default();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for text in texts {
        let tokens = tokenizer.tokens(text.as_ref())?;
        local.lengths.push(tokens.len());
        for token in tokens {
            let id = *seen.entry(token).or_insert_with_key(|token| {
                local.words.push(token.clone());
                local.counts.push(0);
                local.words.len() as u32 - 1
            });
            local.counts[id as usize] += 1;
            local.ids.push(id);
        }
    }
    Ok(local)
}
