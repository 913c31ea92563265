//! What the crate carries compiled in, so it works with no files around: the default sentiment
//! model (`scripts/model/build_builtin.py` rebuilds assets/default/; docs/builtin-model.md) and
//! the Chinese encoder that training on Chinese text starts from (`scripts/model/build_zh_encoder.sh`
//! rebuilds assets/zh-encoder/; docs/training.md).

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::model_dir::{self, ModelFiles};
use crate::pretrain::{Pretrained, PretrainedFiles};
use crate::tokenizer::TextTokenizer;
use candle_core::Device;
use std::path::Path;

const CONFIG: &str = include_str!("../assets/default/config.json");
const TOKENIZER: &str = include_str!("../assets/default/tokenizer.json");
const WEIGHTS: &[u8] = include_bytes!("../assets/default/model.safetensors");

/// Where error messages say the built-in files come from.
const ORIGIN: &str = "<built-in>/";

const ZH_CONFIG: &str = include_str!("../assets/zh-encoder/config.json");
const ZH_TOKENIZER: &str = include_str!("../assets/zh-encoder/tokenizer.json");
const ZH_WEIGHTS: &[u8] = include_bytes!("../assets/zh-encoder/model.safetensors");

/// Where error messages say the built-in Chinese encoder's files come from.
const ZH_ORIGIN: &str = "<built-in>/zh-encoder/";

pub(crate) fn files(device: &Device) -> Result<ModelFiles> {
    if WEIGHTS.is_empty() {
        return Err(Error::model(
            ORIGIN,
            "this build has no built-in model (assets/default/ was empty when it was compiled)",
        ));
    }
    let config = ModelConfig::from_json(CONFIG, &Path::new(ORIGIN).join(model_dir::CONFIG_FILE))?;
    let tokenizer = TextTokenizer::from_json(
        TOKENIZER,
        &Path::new(ORIGIN).join(model_dir::TOKENIZER_FILE),
    )?;
    model_dir::from_parts(
        config,
        tokenizer,
        WEIGHTS,
        &Path::new(ORIGIN).join(model_dir::WEIGHTS_FILE),
        device,
    )
}

/// The built-in Chinese encoder: a bidirectional LSTM language model pretrained on Chinese
/// reviews, read and checked like a directory written by `pretrain`.
pub(crate) fn chinese_encoder(device: &Device) -> Result<Pretrained> {
    let path = |name: &str| Path::new(ZH_ORIGIN).join(name);
    let (config, tokenizer, weights) = (
        path(model_dir::CONFIG_FILE),
        path(model_dir::TOKENIZER_FILE),
        path(model_dir::WEIGHTS_FILE),
    );
    let files = PretrainedFiles {
        config: (ZH_CONFIG, &config),
        tokenizer: (ZH_TOKENIZER, &tokenizer),
        weights: (ZH_WEIGHTS, &weights),
    };
    Pretrained::from_files(files, device)
}
