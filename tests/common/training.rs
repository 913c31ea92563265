//! Training tiny models through the library.

use lstm_sentiment::{train, Classifier, Example, Pooling, Result, TrainConfig, TrainReport};
use std::ops::ControlFlow;

/// [`lstm_sentiment::train`] with a callback that lets every step run.
pub fn train_quietly(
    examples: &[Example],
    dev: Option<&[Example]>,
    config: &TrainConfig,
) -> Result<(Classifier, TrainReport)> {
    train(examples, dev, config, &mut |_| ControlFlow::Continue(()))
}

/// [`train_quietly`] for a run that must succeed.
pub fn trained(
    examples: &[Example],
    dev: Option<&[Example]>,
    config: &TrainConfig,
) -> (Classifier, TrainReport) {
    train_quietly(examples, dev, config).unwrap_or_else(|e| panic!("training fails: {e}"))
}

/// A library [`TrainConfig`] for quick runs: a tiny network (one direction, its final state:
/// the fewest tensors), one epoch.
pub fn tiny_train_config(seed: u64) -> TrainConfig {
    TrainConfig {
        embedding_dim: 4,
        hidden_size: 4,
        bidirectional: false,
        pooling: Pooling::Last,
        epochs: Some(1),
        seed,
        ..TrainConfig::default()
    }
}

/// A classifier trained for one epoch on `words` (each word a text, labels alternating), small
/// enough to train in a blink; different words give different vocabularies.
pub fn tiny_classifier(words: &[&str]) -> Classifier {
    let examples = super::labelled(40, &["positive", "negative"], |i| {
        format!("{} day", words[i % words.len()])
    });
    let config = tiny_train_config(TrainConfig::default().seed);
    trained(&examples, None, &config).0
}
