#![no_main]

use libfuzzer_sys::fuzz_target;
use lstm_sentiment::tokenizer::TextTokenizer;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let Ok(json) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(tokenizer) = TextTokenizer::from_json(json, Path::new("tokenizer.json")) else {
        return;
    };
    let n = tokenizer.vocab_size();
    for text in ["good film", "", "Ünïcode 123 好吃!! [PAD]"] {
        if let Ok(ids) = tokenizer.encode(text, 8) {
            assert!(ids.len() <= 8);
            assert!(
                ids.iter().all(|&id| (id as usize) < n),
                "id out of range: {ids:?} of {n}"
            );
        }
        let _ = tokenizer.tokens(text);
    }
    let _ = tokenizer.encode_batch(&["a b", "c"], 4);
    let _ = tokenizer.to_json();
});
