#![no_main]

use libfuzzer_sys::fuzz_target;
use lstm_sentiment::ModelConfig;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let Ok(json) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(config) = ModelConfig::from_json(json, Path::new("config.json")) else {
        return;
    };
    let _ = config.parameter_count();
    let _ = config.expected_tensors();
    let again = ModelConfig::from_json(&config.to_json(), Path::new("again.json"))
        .expect("a config that loaded saves and loads again");
    assert_eq!(again, config);
});
