//! What trains in each epoch of a run: the learning rate of the encoder against the head's
//! (`encoder_lr_scale`), and ULMFiT's gradual unfreezing, which keeps what a pretrained encoder
//! learned from being overwritten while the fresh head still sends large, random gradients.

use super::TrainConfig;
use crate::config::{ModelConfig, Role};
use std::collections::HashMap;

/// The factor on the learning rate of each dense tensor (0: frozen) in `epoch`, and whether the
/// word vectors train.
pub(super) struct Trained {
    scales: HashMap<String, f64>,
    pub embedding: bool,
}

impl Trained {
    pub fn scale(&self, name: &str) -> f64 {
        self.scales.get(name).copied().unwrap_or(1.0)
    }
}

/// What trains in `epoch` (from 1). With gradual unfreezing, epoch 1 trains the head alone,
/// epoch 2 also the top encoder layer, each later epoch the next layer down, and the epoch
/// after the lowest layer also the word vectors; without it, everything trains from the start.
pub(super) fn trained_in(config: &TrainConfig, model: &ModelConfig, epoch: usize) -> Trained {
    // Layers counted from the top that train this epoch; the word vectors come after them all.
    let thawed = if config.gradual_unfreezing {
        epoch.saturating_sub(1)
    } else {
        usize::MAX
    };
    let layers = model.num_layers;
    let scales = (model.tensors().into_iter())
        .filter_map(|t| match t.role {
            Role::Recurrent { layer, .. } => {
                let trains = layers - layer <= thawed;
                Some((t.name, if trains { config.encoder_lr_scale } else { 0.0 }))
            }
            _ => None,
        })
        .collect();
    Trained {
        scales,
        embedding: thawed > layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::TokenizerConfig;

    fn model(layers: usize) -> ModelConfig {
        ModelConfig {
            format_version: 1,
            cell: crate::Cell::Lstm,
            vocab_size: 10,
            embedding_dim: 3,
            hidden_size: 4,
            num_layers: layers,
            bidirectional: true,
            pooling: Default::default(),
            labels: vec!["a".into(), "b".into()],
            label_aliases: Default::default(),
            max_length: 8,
            truncation: Default::default(),
            ngram_buckets: 0,
            tokenizer: TokenizerConfig::default(),
            dtype: None,
            training: None,
        }
    }

    #[test]
    fn gradual_unfreezing_thaws_from_the_top_then_the_word_vectors() {
        let config = TrainConfig {
            gradual_unfreezing: true,
            encoder_lr_scale: 0.5,
            ..TrainConfig::default()
        };
        let m = model(2);
        let at = |epoch| trained_in(&config, &m, epoch);
        let (l0, l1) = ("encoder.weight_hh_l0_reverse", "encoder.bias_ih_l1");
        assert_eq!(
            (at(1).scale(l1), at(1).scale(l0), at(1).embedding),
            (0.0, 0.0, false)
        );
        assert_eq!(
            (at(2).scale(l1), at(2).scale(l0), at(2).embedding),
            (0.5, 0.0, false)
        );
        assert_eq!(
            (at(3).scale(l1), at(3).scale(l0), at(3).embedding),
            (0.5, 0.5, false)
        );
        assert_eq!(
            (at(4).scale(l1), at(4).scale(l0), at(4).embedding),
            (0.5, 0.5, true)
        );
        assert_eq!(at(1).scale("head.weight"), 1.0);
    }

    #[test]
    fn without_it_everything_trains_from_the_first_epoch() {
        let t = trained_in(&TrainConfig::default(), &model(1), 1);
        assert!(t.embedding);
        assert_eq!(t.scale("encoder.weight_ih_l0"), 1.0);
    }
}
