//! The training and dev sets of a run, and the labels they may use.

use crate::data::{label_list, label_set, Example};
use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::HashMap;

/// The labels of the training data, in the order a model keeps them; an error when there are
/// fewer than two, which no classifier can learn from.
pub fn training_labels(train: &[Example]) -> Result<Vec<String>> {
    let labels = label_set(train);
    match labels.as_slice() {
        [] => Err(Error::Config("no training examples".into())),
        [only] => Err(Error::Config(format!(
            "every example has the label `{only}`; a classifier needs at least two labels"
        ))),
        _ => Ok(labels),
    }
}

/// The dev set: the given one; without it, a seeded random share of each label's examples
/// held out of train (stratified, so every label keeps at least one training example); none
/// when `fraction` is 0.
pub(super) fn split(
    train: &[Example],
    dev: Option<&[Example]>,
    fraction: f64,
    rng: &mut StdRng,
) -> Result<(Vec<Example>, Vec<Example>)> {
    if train.is_empty() {
        return Err(Error::Config("no training examples".into()));
    }
    if let Some(dev) = dev {
        if dev.is_empty() {
            return Err(Error::Config("the dev set is empty".into()));
        }
        return Ok((train.to_vec(), dev.to_vec()));
    }
    if fraction == 0.0 {
        return Ok((train.to_vec(), Vec::new()));
    }
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(rng);
    let mut quota = dev_quota(train, fraction)?;
    let (mut rest, mut held) = (Vec::new(), Vec::new());
    for i in order {
        let left = quota
            .get_mut(train[i].label.as_str())
            .expect("every label has a quota");
        if *left > 0 {
            *left -= 1;
            held.push(train[i].clone());
        } else {
            rest.push(train[i].clone());
        }
    }
    Ok((rest, held))
}

/// How many examples of each label go to dev: `fraction` of them, rounded, but never the last
/// one. When that rounds to nothing at all, one example of the most frequent label.
fn dev_quota(train: &[Example], fraction: f64) -> Result<HashMap<&str, usize>> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for e in train {
        *counts.entry(e.label.as_str()).or_default() += 1;
    }
    let mut quota: HashMap<&str, usize> = counts
        .iter()
        .map(|(&label, &n)| (label, ((n as f64 * fraction).round() as usize).min(n - 1)))
        .collect();
    if quota.values().all(|&q| q == 0) {
        // The most frequent label, ties broken by name so that the choice is seeded only.
        let (label, n) = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .expect("train is not empty");
        if *n < 2 {
            return Err(Error::Config(
                "cannot hold out a dev example without taking some label's only example; \
                 give a dev set or a dev fraction of 0"
                    .into(),
            ));
        }
        quota.insert(label, 1);
    }
    Ok(quota)
}

/// Each example's label as an index into `labels`; an error for a dev label the training data
/// lacks.
pub(super) fn label_indices(set: &[Example], labels: &[String]) -> Result<Vec<u32>> {
    let index: HashMap<&str, u32> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i as u32))
        .collect();
    set.iter()
        .map(|e| {
            index.get(e.label.as_str()).copied().ok_or_else(|| {
                Error::Config(format!(
                    "dev label `{}` never occurs in the training data (its labels: {})",
                    e.label,
                    label_list(labels)
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn examples(labels: &[(&str, usize)]) -> Vec<Example> {
        labels
            .iter()
            .flat_map(|&(label, n)| {
                (0..n).map(move |i| Example {
                    text: format!("{label} {i}"),
                    label: label.into(),
                })
            })
            .collect()
    }

    fn count(set: &[Example], label: &str) -> usize {
        set.iter().filter(|e| e.label == label).count()
    }

    #[test]
    fn held_out_dev_is_disjoint_and_seeded() {
        let data = examples(&[("a", 50)]);
        let (t1, d1) = split(&data, None, 0.2, &mut StdRng::seed_from_u64(3)).unwrap();
        let (_, d2) = split(&data, None, 0.2, &mut StdRng::seed_from_u64(3)).unwrap();
        assert_eq!((t1.len(), d1.len()), (40, 10));
        assert_eq!(d1, d2);
        assert!(d1.iter().all(|d| !t1.contains(d)));
    }

    #[test]
    fn every_label_is_split_by_the_fraction_and_stays_in_train() {
        let data = examples(&[("a", 300), ("b", 40), ("c", 1), ("d", 2)]);
        for seed in 0..20 {
            let (train, dev) = split(&data, None, 0.1, &mut StdRng::seed_from_u64(seed)).unwrap();
            let held: Vec<usize> = ["a", "b", "c", "d"].map(|l| count(&dev, l)).to_vec();
            assert_eq!(held, [30, 4, 0, 0], "seed {seed}");
            assert_eq!(label_set(&train), ["a", "b", "c", "d"], "seed {seed}");
        }
    }

    #[test]
    fn a_fraction_of_zero_holds_out_nothing_and_a_tiny_one_at_least_one() {
        let data = examples(&[("a", 3), ("b", 2)]);
        let mut rng = StdRng::seed_from_u64(1);
        let (train, dev) = split(&data, None, 0.0, &mut rng).unwrap();
        assert_eq!((train.len(), dev.len()), (5, 0));
        let (train, dev) = split(&data, None, 0.01, &mut rng).unwrap();
        assert_eq!((count(&train, "a"), count(&dev, "a")), (2, 1));
        let singles = examples(&[("a", 1), ("b", 1)]);
        assert!(split(&singles, None, 0.5, &mut rng).is_err());
    }
}
