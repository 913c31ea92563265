//! Reading tokenizer.json without the detour `tokenizers` takes through its vocabulary.
//!
//! `tokenizers` reads a model by buffering it whole, building a JSON value of the vocabulary (a
//! sorted map of every word) and deserializing that again; with a 30,000-word vocabulary that
//! is most of the time the CLI takes to start. A word-level model is read here straight into a
//! hash map, and `tokenizers` reads the rest of the file with a two-word stand-in for the
//! vocabulary before the real model replaces it. Anything else (another model, added tokens,
//! whose ids are worked out against the model as the file is read) takes `tokenizers`' own path,
//! which also gives its error messages.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::Tokenizer;

/// A model with `"type": "WordLevel"`, as `tokenizers` writes it.
#[derive(Deserialize)]
struct WordLevelJson {
    #[serde(rename = "type")]
    kind: String,
    vocab: Pairs,
    unk_token: String,
}

/// A JSON object of word -> id, read in order as pairs: the map `tokenizers` builds from them
/// is then sized once instead of growing entry by entry.
struct Pairs(Vec<(String, u32)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of word -> id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor)
    }
}

/// What replaces the vocabulary while `tokenizers` reads the rest of the file.
const STAND_IN: &str = r#"{"type":"WordLevel","vocab":{"[PAD]":0,"[UNK]":1},"unk_token":"[UNK]"}"#;

/// The tokenizer in `json`, read the quick way when it is a word-level model without added
/// tokens; None when it is not, or when anything in it is off (the caller then reads it the
/// usual way, which names what is wrong).
pub(super) fn read_word_level(json: &str) -> Option<Tokenizer> {
    let parts: BTreeMap<String, Box<RawValue>> = serde_json::from_str(json).ok()?;
    let model: WordLevelJson = serde_json::from_str(parts.get("model")?.get()).ok()?;
    let added: Vec<serde::de::IgnoredAny> = match parts.get("added_tokens") {
        Some(raw) => serde_json::from_str(raw.get()).ok()?,
        None => Vec::new(),
    };
    if model.kind != "WordLevel" || !added.is_empty() {
        return None;
    }
    let rest: Vec<String> = parts
        .iter()
        .map(|(key, raw)| {
            let value = if key == "model" { STAND_IN } else { raw.get() };
            format!("{}:{value}", serde_json::to_string(key).unwrap_or_default())
        })
        .collect();
    let mut tokenizer: Tokenizer = serde_json::from_str(&format!("{{{}}}", rest.join(","))).ok()?;
    let word_level = WordLevel::builder()
        .vocab(model.vocab.0.into_iter().collect())
        .unk_token(model.unk_token)
        .build()
        .ok()?;
    tokenizer.with_model(word_level);
    Some(tokenizer)
}
