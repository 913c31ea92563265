//! Several classifiers that answer as one: a text's probabilities are the mean of theirs.
//!
//! Models trained differently (word vectors from word2vec in one, an encoder pretrained as a
//! language model in another) make different mistakes, so the mean of their probabilities is
//! right more often than either alone, at the cost of running each.

use crate::classifier::{evaluation, gold_labels, prediction};
use crate::data::{label_list, Example};
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::{Classifier, Prediction};
use std::collections::BTreeMap;

/// Classifiers with the same labels, answering together. `Send + Sync`, like each of them.
///
/// ```no_run
/// use lstm_sentiment::{Classifier, Ensemble};
/// let ensemble = Ensemble::new(vec![Classifier::load("a")?, Classifier::load("b")?])?;
/// let p = ensemble.predict("A wonderful, moving film.")?;
/// println!("{} {:.3}", p.label, p.score);
/// # Ok::<(), lstm_sentiment::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Ensemble {
    members: Vec<Classifier>,
    /// For each member, where each of the first member's labels is in its own order.
    positions: Vec<Vec<usize>>,
}

impl Ensemble {
    /// Joins `members`, which must have the same labels, in any order, each of the first
    /// member's labels being one of a member's or one of its aliases (see
    /// [`crate::ModelConfig::label_aliases`]). Answers come in the first member's label order,
    /// and its aliases resolve data labels in [`Ensemble::evaluate`].
    pub fn new(members: Vec<Classifier>) -> Result<Self> {
        let first = members
            .first()
            .ok_or_else(|| Error::Config("an ensemble needs at least one model".into()))?;
        let labels = first.labels();
        let positions = members
            .iter()
            .enumerate()
            .map(|(i, member)| {
                let theirs = member.labels();
                let found: Option<Vec<usize>> =
                    labels.iter().map(|l| member.label_index(l)).collect();
                found
                    .filter(|p| is_permutation(p, theirs.len()))
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "model {} has the labels {} and model 1 has {}: the models of an \
                         ensemble must have the same labels",
                            i + 1,
                            label_list(theirs),
                            label_list(labels)
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { members, positions })
    }

    /// The classifiers, in the order given.
    pub fn members(&self) -> &[Classifier] {
        &self.members
    }

    /// The labels, in the order of every answer's `probs`.
    pub fn labels(&self) -> &[String] {
        self.members[0].labels()
    }

    /// Classifies one text.
    pub fn predict(&self, text: &str) -> Result<Prediction> {
        let mut out = self.predict_batch(&[text])?;
        Ok(out.remove(0))
    }

    /// Classifies many texts; results come back in input order.
    pub fn predict_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Prediction>> {
        let probs = self.probabilities(texts)?;
        Ok(probs.iter().map(|p| prediction(self.labels(), p)).collect())
    }

    /// Scores labelled examples, as [`Classifier::evaluate`] does, on the mean probabilities.
    pub fn evaluate(&self, examples: &[Example]) -> Result<Evaluation> {
        let gold = gold_labels(self.members[0].config(), examples)?;
        let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
        evaluation(self.labels(), &gold, &self.probabilities(&texts)?)
    }

    /// The index of a label, or of the label one of the first member's aliases stands for.
    pub fn label_index(&self, label: &str) -> Option<usize> {
        self.members[0].label_index(label)
    }

    /// Records other names for the labels, as [`Classifier::set_label_aliases`] does.
    pub fn set_label_aliases(&mut self, aliases: BTreeMap<String, String>) -> Result<()> {
        self.members[0].set_label_aliases(aliases)
    }

    /// The mean of the members' probabilities, in the first member's label order.
    fn probabilities<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        if let [only] = self.members.as_slice() {
            return only.probabilities(texts);
        }
        let mut sum = vec![vec![0.0f32; self.labels().len()]; texts.len()];
        for (member, positions) in self.members.iter().zip(&self.positions) {
            for (total, probs) in sum.iter_mut().zip(member.probabilities(texts)?) {
                for (t, &at) in total.iter_mut().zip(positions) {
                    *t += probs[at];
                }
            }
        }
        let n = self.members.len() as f32;
        for row in &mut sum {
            row.iter_mut().for_each(|p| *p /= n);
        }
        Ok(sum)
    }
}

/// Whether `positions` names each of `n` labels exactly once.
fn is_permutation(positions: &[usize], n: usize) -> bool {
    let mut seen = vec![false; n];
    positions.len() == n
        && positions
            .iter()
            .all(|&p| p < n && !std::mem::replace(&mut seen[p], true))
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Ensemble>();
}
