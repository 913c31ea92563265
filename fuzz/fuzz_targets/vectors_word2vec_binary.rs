#![no_main]

#[path = "common/vectors.rs"]
mod vectors;

use libfuzzer_sys::fuzz_target;
use lstm_sentiment::vectors::VectorFormat;

fuzz_target!(|bytes: &[u8]| vectors::check(bytes, VectorFormat::Word2VecBinary));
