#![no_main]

#[path = "common/data.rs"]
mod data;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| data::check(bytes, lstm_sentiment::Format::Jsonl));
