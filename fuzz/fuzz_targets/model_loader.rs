#![no_main]

#[path = "common/model.rs"]
mod model;

use candle_core::Device;
use libfuzzer_sys::fuzz_target;
use lstm_sentiment::model_dir;
use lstm_sentiment::tokenizer::TextTokenizer;
use lstm_sentiment::ModelConfig;
use std::path::Path;

/// The input is config.json, SEPARATOR, tokenizer.json, SEPARATOR, model.safetensors.
const SEPARATOR: &[u8] = b"\0--8<--\0";

fn split(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes
        .windows(SEPARATOR.len())
        .position(|w| w == SEPARATOR)?;
    Some((&bytes[..at], &bytes[at + SEPARATOR.len()..]))
}

fuzz_target!(|bytes: &[u8]| {
    let Some((config, rest)) = split(bytes) else {
        return;
    };
    let Some((tokenizer, weights)) = split(rest) else {
        return;
    };
    let (Ok(config), Ok(tokenizer)) = (std::str::from_utf8(config), std::str::from_utf8(tokenizer))
    else {
        return;
    };
    let Ok(config) = ModelConfig::from_json(config, Path::new("config.json")) else {
        return;
    };
    let Ok(tokenizer) = TextTokenizer::from_json(tokenizer, Path::new("tokenizer.json")) else {
        return;
    };
    let origin = Path::new("model.safetensors");
    let Ok(files) = model_dir::from_parts(config, tokenizer, weights, origin, &Device::Cpu) else {
        return;
    };
    let ids = files
        .tokenizer
        .encode("good film, bad film 12", files.config.max_length)
        .unwrap();
    model::run(&files.config, &files.weights, ids);
});
