//! The model directory: config.json, tokenizer.json and model.safetensors, read and written whole.

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::model::Weights;
use crate::tokenizer::TextTokenizer;
use candle_core::{DType, Device, Tensor};
use std::path::Path;

pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// The three parts of a model, checked against each other.
pub struct ModelFiles {
    pub config: ModelConfig,
    pub tokenizer: TextTokenizer,
    pub weights: Weights,
}

/// Reads and checks a model directory.
pub fn load(dir: &Path, device: &Device) -> Result<ModelFiles> {
    if !dir.is_dir() {
        return Err(Error::model(
            dir,
            "not a model directory (expected a directory with config.json, tokenizer.json and model.safetensors)",
        ));
    }
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| Error::io(path, "cannot read", e))
    };
    let config_path = dir.join(CONFIG_FILE);
    let config_text = String::from_utf8(read(CONFIG_FILE)?)
        .map_err(|_| Error::model(&config_path, "not UTF-8 text"))?;
    let config = ModelConfig::from_json(&config_text, &config_path)?;
    let tokenizer = TextTokenizer::from_file(&dir.join(TOKENIZER_FILE))?;
    let weights = read(WEIGHTS_FILE)?;
    from_parts(config, tokenizer, &weights, &dir.join(WEIGHTS_FILE), device)
}

/// Checks the parts against each other; `weights_origin` names the safetensors in errors.
pub fn from_parts(
    config: ModelConfig,
    tokenizer: TextTokenizer,
    safetensors: &[u8],
    weights_origin: &Path,
    device: &Device,
) -> Result<ModelFiles> {
    if tokenizer.vocab_size() != config.vocab_size {
        return Err(Error::model(
            weights_origin.with_file_name(TOKENIZER_FILE),
            format!(
                "the tokenizer has {} entries but config.json says vocab_size {}",
                tokenizer.vocab_size(),
                config.vocab_size
            ),
        ));
    }
    let weights = read_weights(&config, safetensors, weights_origin, device)?;
    Ok(ModelFiles {
        config,
        tokenizer,
        weights,
    })
}

/// Parses safetensors and checks every name, shape and dtype against the config.
pub fn read_weights(
    config: &ModelConfig,
    bytes: &[u8],
    origin: &Path,
    device: &Device,
) -> Result<Weights> {
    let tensors = candle_core::safetensors::load_buffer(bytes, device)
        .map_err(|e| Error::model(origin, format!("not a valid safetensors file: {e}")))?;
    let expected = config.expected_tensors();
    let mut weights = Weights::new();
    for (name, shape) in &expected {
        let tensor = tensors.get(name).ok_or_else(|| {
            Error::model(
                origin,
                format!(
                    "missing tensor `{name}` (expected shape {shape:?}); found {}",
                    names(&tensors)
                ),
            )
        })?;
        if tensor.dims() != shape.as_slice() {
            return Err(Error::model(
                origin,
                format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?} from config.json",
                    tensor.dims()
                ),
            ));
        }
        if tensor.dtype() != DType::F32 {
            return Err(Error::model(
                origin,
                format!(
                    "tensor `{name}` has dtype {:?}, expected F32",
                    tensor.dtype()
                ),
            ));
        }
        check_finite(tensor, name, origin)?;
        weights.insert(name.clone(), tensor.clone());
    }
    if let Some(extra) = tensors
        .keys()
        .filter(|k| !expected.iter().any(|(n, _)| n == *k))
        .min()
    {
        return Err(Error::model(
            origin,
            format!(
                "unexpected tensor `{extra}` for a {} model with {} layer(s){}",
                config.cell,
                config.num_layers,
                if config.bidirectional {
                    ", bidirectional"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(weights)
}

fn names(tensors: &std::collections::HashMap<String, Tensor>) -> String {
    let mut names: Vec<&str> = tensors.keys().map(String::as_str).collect();
    names.sort();
    format!("[{}]", names.join(", "))
}

fn check_finite(tensor: &Tensor, name: &str, origin: &Path) -> Result<()> {
    let values = tensor.flatten_all()?.to_vec1::<f32>()?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::model(
            origin,
            format!(
                "tensor `{name}` holds a non-finite value ({}) at flat index {i}",
                values[i]
            ),
        ));
    }
    Ok(())
}

/// Serializes weights to safetensors bytes (names sorted, so equal weights give equal bytes).
pub fn weights_to_bytes(weights: &Weights) -> Result<Vec<u8>> {
    let data: Vec<(&String, &Tensor)> = weights.iter().collect();
    safetensors::tensor::serialize(data, None).map_err(|e| {
        Error::Candle(candle_core::Error::Msg(format!(
            "cannot serialize weights: {e}"
        )))
    })
}

/// Writes the directory: each file atomically, weights first and config last, so that a
/// reader never finds a config that promises tensors not yet written.
pub fn save(
    dir: &Path,
    config: &ModelConfig,
    tokenizer: &TextTokenizer,
    weights: &Weights,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create directory", e))?;
    write_atomic(&dir.join(WEIGHTS_FILE), &weights_to_bytes(weights)?)?;
    tokenizer.save(&dir.join(TOKENIZER_FILE))?;
    write_atomic(&dir.join(CONFIG_FILE), config.to_json().as_bytes())
}
