#![no_main]

#[path = "common/model.rs"]
mod model;

use candle_core::Device;
use libfuzzer_sys::fuzz_target;
use lstm_sentiment::{model_dir, ModelConfig};
use std::path::Path;
use std::sync::OnceLock;

/// The tiny model in fuzz/seeds/model, whose weights seed this target.
const SEED_CONFIG: &str = include_str!("../seeds/model/config.json");

fn config() -> &'static ModelConfig {
    static CONFIG: OnceLock<ModelConfig> = OnceLock::new();
    CONFIG.get_or_init(|| ModelConfig::from_json(SEED_CONFIG, Path::new("seed")).unwrap())
}

fuzz_target!(|bytes: &[u8]| {
    let config = config();
    let origin = Path::new("model.safetensors");
    if let Ok(weights) = model_dir::read_weights(config, bytes, origin, &Device::Cpu) {
        model::run(config, &weights, vec![2, 3, 1, 0]);
    }
});
