#![no_main]

#[path = "common/data.rs"]
mod data;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let format = lstm_sentiment::Format::Csv {
        text_column: "text".into(),
        label_column: "label".into(),
    };
    data::check(bytes, format)
});
