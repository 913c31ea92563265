//! The default sentiment model, compiled into the crate so it works with no files around.
//! `scripts/model/build_builtin.py` rebuilds assets/default/ (docs/builtin-model.md).

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::model_dir::{self, ModelFiles};
use crate::tokenizer::TextTokenizer;
use candle_core::Device;
use std::path::Path;

const CONFIG: &str = include_str!("../assets/default/config.json");
const TOKENIZER: &str = include_str!("../assets/default/tokenizer.json");
const WEIGHTS: &[u8] = include_bytes!("../assets/default/model.safetensors");

/// Where error messages say the built-in files come from.
const ORIGIN: &str = "<built-in>/";

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
