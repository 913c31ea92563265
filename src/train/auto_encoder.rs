//! [`EncoderInit::Auto`]: whether a run starts from the built-in Chinese encoder.
//!
//! Chinese is read a character at a time, and a few thousand characters cover nearly every
//! text, so one encoder pretrained on Chinese reviews fits most users' Chinese data, and a
//! classifier started from it scores higher and more steadily than one started fresh
//! (docs/training.md). English words are open-ended: a vocabulary fixed in advance would miss
//! too many of a user's words, so English texts start fresh.

use super::{EmbeddingInit, EncoderInit, TrainConfig};
use crate::data::Example;
use crate::error::Result;
use crate::pretrain::Pretrained;
use crate::tokenizer::{TextTokenizer, TokenizerConfig, UNK_ID};

/// The share of the training texts' tokens that the built-in encoder's vocabulary must hold
/// for [`EncoderInit::Auto`] to start from it. Below, a text in traditional characters, say,
/// would lose too many of its characters to the unknown token.
pub const AUTO_ENCODER_COVERAGE: f64 = 0.99;

/// Replaces [`EncoderInit::Auto`] by what it stands for here: the built-in Chinese encoder
/// (whose tokenizer settings the run then takes, and which is given back so that the run
/// starts from it without loading it again) or a fresh start.
pub(super) fn resolve(
    config: &mut TrainConfig,
    train: &[Example],
    ideographic: bool,
) -> Result<Option<Pretrained>> {
    if config.encoder != EncoderInit::Auto {
        return Ok(None);
    }
    config.encoder = EncoderInit::Random;
    let free = config.embeddings == EmbeddingInit::Random
        && config.tokenizer == TokenizerConfig::default();
    if !ideographic || !free {
        return Ok(None);
    }
    let encoder = crate::builtin::chinese_encoder(&candle_core::Device::Cpu)?;
    if !has_shape(config, &encoder) {
        return Ok(None);
    }
    let texts: Vec<&str> = train.iter().map(|e| e.text.as_str()).collect();
    if coverage(&encoder.tokenizer, &texts, config.max_length)? < AUTO_ENCODER_COVERAGE {
        return Ok(None);
    }
    config.encoder = EncoderInit::BuiltinChinese;
    config.tokenizer = encoder.config.tokenizer.clone();
    Ok(Some(encoder))
}

/// Whether the run's network is the encoder's: cell, sizes, layers and direction.
fn has_shape(config: &TrainConfig, encoder: &Pretrained) -> bool {
    let s = &encoder.config.shape;
    (
        s.cell,
        s.embedding_dim,
        s.hidden_size,
        s.num_layers,
        s.bidirectional,
    ) == (
        config.cell,
        config.embedding_dim,
        config.hidden_size,
        config.num_layers,
        config.bidirectional,
    )
}

/// The share of the tokens of `texts` (as far as a run reads them) that `tokenizer` knows.
fn coverage(tokenizer: &TextTokenizer, texts: &[&str], max_length: usize) -> Result<f64> {
    let (mut known, mut all) = (0usize, 0usize);
    for ids in tokenizer.encode_batch(texts, max_length)? {
        all += ids.len();
        known += ids.iter().filter(|&&id| id != UNK_ID).count();
    }
    Ok(if all == 0 {
        0.0
    } else {
        known as f64 / all as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(texts: &[&str]) -> Vec<Example> {
        (texts.iter().enumerate())
            .map(|(i, t)| Example {
                text: t.to_string(),
                label: ["neg", "pos"][i % 2].to_string(),
            })
            .collect()
    }

    const CHINESE: [&str; 4] = [
        "这家店很好吃，还会再来",
        "太难吃了",
        "送餐很快，服务好",
        "等了两个小时",
    ];

    fn resolved(config: TrainConfig, texts: &[&str]) -> TrainConfig {
        let mut config = config;
        let ideographic = crate::ngram::TextShape::of(texts.iter().copied()).ideographic;
        resolve(&mut config, &examples(texts), ideographic).unwrap();
        config
    }

    #[test]
    fn chinese_texts_start_from_the_builtin_encoder_and_take_its_tokenizer() {
        let config = resolved(TrainConfig::default(), &CHINESE);
        assert_eq!(config.encoder, EncoderInit::BuiltinChinese);
        let encoder = crate::builtin::chinese_encoder(&candle_core::Device::Cpu).unwrap();
        assert_eq!(config.tokenizer, encoder.config.tokenizer);
        config.validate().unwrap();
    }

    #[test]
    fn english_texts_and_other_networks_start_fresh() {
        let fresh = |config: TrainConfig, texts: &[&str]| {
            let tokenizer = config.tokenizer.clone();
            let config = resolved(config, texts);
            assert_eq!(config.encoder, EncoderInit::Random);
            assert_eq!(config.tokenizer, tokenizer);
        };
        fresh(TrainConfig::default(), &["a fine film", "dull and long"]);
        let d = TrainConfig::default;
        fresh(
            TrainConfig {
                hidden_size: 64,
                ..d()
            },
            &CHINESE,
        );
        fresh(
            TrainConfig {
                bidirectional: false,
                ..d()
            },
            &CHINESE,
        );
        let tokenizer = TokenizerConfig {
            min_count: 3,
            ..TokenizerConfig::default()
        };
        fresh(TrainConfig { tokenizer, ..d() }, &CHINESE);
        let embeddings = EmbeddingInit::Word2Vec {
            unlabeled: None,
            unlabeled_words: 0,
        };
        fresh(TrainConfig { embeddings, ..d() }, &CHINESE);
    }

    #[test]
    fn texts_whose_characters_the_encoder_lacks_start_fresh() {
        let encoder = crate::builtin::chinese_encoder(&candle_core::Device::Cpu).unwrap();
        // Ideographs outside its vocabulary, as traditional or rare characters are.
        let unknown: String = ('\u{4E00}'..='\u{9FFF}')
            .filter(|c| encoder.tokenizer.token_to_id(&c.to_string()).is_none())
            .take(40)
            .collect();
        assert_eq!(unknown.chars().count(), 40);
        let mut texts = CHINESE.to_vec();
        texts.push(&unknown);
        assert_eq!(
            resolved(TrainConfig::default(), &texts).encoder,
            EncoderInit::Random
        );
    }

    #[test]
    fn a_run_that_is_told_where_to_start_keeps_it() {
        for encoder in [EncoderInit::Random, EncoderInit::BuiltinChinese] {
            let config = TrainConfig {
                encoder: encoder.clone(),
                ..TrainConfig::default()
            };
            assert_eq!(resolved(config, &CHINESE).encoder, encoder);
        }
    }
}
