//! Shared by the model targets: run a loaded model, which must not panic whatever it holds.

use candle_core::Device;
use lstm_sentiment::model::{Batch, Model, Weights};
use lstm_sentiment::ModelConfig;

/// Builds the network and runs a small batch through it.
pub fn run(config: &ModelConfig, weights: &Weights, ids: Vec<u32>) {
    let model = Model::from_weights(config, weights).expect("checked weights build a model");
    let batch = Batch::new(&[ids, vec![], vec![1]], &Device::Cpu).unwrap();
    let out = model.forward(&batch, None).expect("a checked model runs");
    assert_eq!(out.logits.dims(), [3, config.labels.len()]);
}
