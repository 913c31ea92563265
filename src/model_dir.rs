//! The model directory: config.json, tokenizer.json and model.safetensors (and a README.md
//! card, and for a trained model its training report: training.json and report.svg), read and
//! written whole. Saves replace the files as one set (see `file_set.rs`), so that a kill at any
//! moment leaves the old model or the new one.

use crate::config::{ModelConfig, WeightDtype};
use crate::error::{Error, Result};
use crate::file_set;
use crate::model::Weights;
use crate::report::{training_json, training_svg, REPORT_FILE, TRAINING_FILE};
use crate::tokenizer::TextTokenizer;
use crate::train::TrainReport;
use crate::widen::widen;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

#[doc(hidden)]
pub use crate::file_set::SaveStep;

pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The Hub's model card, written beside the model so the directory can be uploaded as is.
pub const CARD_FILE: &str = "README.md";

/// The three parts of a model, checked against each other.
pub struct ModelFiles {
    pub config: ModelConfig,
    pub tokenizer: TextTokenizer,
    pub weights: Weights,
}

/// Reads and checks a model directory. A save that was killed after its commit point is read
/// as the new model it was writing (see [`save`]).
pub fn load(dir: &Path, device: &Device) -> Result<ModelFiles> {
    if !dir.is_dir() {
        return Err(Error::model(
            dir,
            "not a model directory (expected a directory with config.json, tokenizer.json and model.safetensors)",
        ));
    }
    let path = |name: &str| file_set::current(dir, name);
    read_files(
        &path(CONFIG_FILE),
        &path(TOKENIZER_FILE),
        &path(WEIGHTS_FILE),
        device,
    )
}

/// Reads exactly the three files of `dir`, a snapshot of the Hub cache whose paths the caller
/// has checked; no save ever runs there.
pub(crate) fn load_snapshot(dir: &Path, device: &Device) -> Result<ModelFiles> {
    read_files(
        &dir.join(CONFIG_FILE),
        &dir.join(TOKENIZER_FILE),
        &dir.join(WEIGHTS_FILE),
        device,
    )
}

/// Where the file `name` of the model in `dir` is read from: `dir/name`, or the new file of a
/// save that was killed after its commit point. A path that does not exist means the model has
/// no such file.
pub fn current_path(dir: &Path, name: &str) -> PathBuf {
    file_set::current(dir, name)
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
    String::from_utf8(bytes).map_err(|_| Error::model(path, "not UTF-8 text"))
}

fn read_files(
    config: &Path,
    tokenizer: &Path,
    weights: &Path,
    device: &Device,
) -> Result<ModelFiles> {
    let config = ModelConfig::from_json(&read_text(config)?, config)?;
    let tokenizer = TextTokenizer::from_file(tokenizer)?;
    let bytes = std::fs::read(weights).map_err(|e| Error::io(weights, "cannot read", e))?;
    from_parts(config, tokenizer, &bytes, weights, device)
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
///
/// Two allowances for files saved from PyTorch: a prefix shared by every name (such as `model.`
/// from a wrapper module) is dropped when the names then match, and float16 / bfloat16 tensors
/// are widened to float32 (unless config.json's `dtype` names another type).
pub fn read_weights(
    config: &ModelConfig,
    bytes: &[u8],
    origin: &Path,
    device: &Device,
) -> Result<Weights> {
    let what = format!(
        "a {} model with {} layer(s){}",
        config.cell,
        config.num_layers,
        if config.bidirectional {
            ", bidirectional"
        } else {
            ""
        }
    );
    let expected = config.expected_tensors();
    read_expected(&expected, config.dtype, &what, bytes, origin, device)
}

/// Parses safetensors holding exactly the tensors `expected` (names and shapes), stored as
/// `dtype` where given; `what` describes the model in the message about an unexpected tensor.
pub(crate) fn read_expected(
    expected: &[(String, Vec<usize>)],
    dtype: Option<WeightDtype>,
    what: &str,
    bytes: &[u8],
    origin: &Path,
    device: &Device,
) -> Result<Weights> {
    // Views first, so each tensor's name, shape and dtype are checked before its data is read.
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| Error::model(origin, format!("not a valid safetensors file: {e}")))?;
    let tensors = strip_wrapper_prefix(file.tensors().into_iter().collect());
    let mismatch = |what: String| {
        let want: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
        Error::model(
            origin,
            format!(
                "{what}; expected tensors [{}], found {}",
                want.join(", "),
                names(&tensors)
            ),
        )
    };
    let mut weights = Weights::new();
    for (name, shape) in expected {
        let tensor = tensors
            .get(name)
            .ok_or_else(|| mismatch(format!("missing tensor `{name}` (shape {shape:?})")))?;
        if tensor.shape() != shape.as_slice() {
            return Err(Error::model(
                origin,
                format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?} from config.json",
                    tensor.shape()
                ),
            ));
        }
        let stored = match tensor.dtype() {
            safetensors::Dtype::F32 => WeightDtype::Float32,
            safetensors::Dtype::F16 => WeightDtype::Float16,
            safetensors::Dtype::BF16 => WeightDtype::Bfloat16,
            other => {
                return Err(Error::model(
                    origin,
                    format!(
                        "tensor `{name}` has dtype {other:?}, expected float32, float16 or bfloat16"
                    ),
                ))
            }
        };
        if let Some(want) = dtype.filter(|w| *w != stored) {
            return Err(Error::model(
                origin,
                format!("tensor `{name}` is {stored:?} but config.json says dtype {want:?}"),
            ));
        }
        let values = widen(tensor.dtype(), tensor.data()).ok_or_else(|| {
            Error::model(origin, format!("tensor `{name}`: cannot widen {stored:?}"))
        })?;
        check_finite(&values, name, origin)?;
        let tensor = Tensor::from_vec(values, shape.as_slice(), device)
            .map_err(|e| Error::model(origin, format!("tensor `{name}`: {e}")))?;
        weights.insert(name.clone(), tensor);
    }
    if let Some(extra) = tensors
        .keys()
        .filter(|k| !expected.iter().any(|(n, _)| n == *k))
        .min()
    {
        return Err(mismatch(format!("unexpected tensor `{extra}` for {what}")));
    }
    Ok(weights)
}

/// Drops a prefix such as `model.` when every name has it and the embedding sits right under it.
fn strip_wrapper_prefix<T>(tensors: HashMap<String, T>) -> HashMap<String, T> {
    const ANCHOR: &str = crate::config::EMBEDDING_TENSOR;
    if tensors.contains_key(ANCHOR) {
        return tensors;
    }
    let candidates: Vec<&str> = tensors
        .keys()
        .filter_map(|k| k.strip_suffix(ANCHOR))
        .filter(|p| p.ends_with('.'))
        .collect();
    let [prefix] = candidates.as_slice() else {
        return tensors;
    };
    let prefix = prefix.to_string();
    if !tensors.keys().all(|k| k.starts_with(&prefix)) {
        return tensors;
    }
    tensors
        .into_iter()
        .map(|(k, v)| (k[prefix.len()..].to_string(), v))
        .collect()
}

fn names<T>(tensors: &HashMap<String, T>) -> String {
    let mut names: Vec<&str> = tensors.keys().map(String::as_str).collect();
    names.sort();
    format!("[{}]", names.join(", "))
}

fn check_finite(values: &[f32], name: &str, origin: &Path) -> Result<()> {
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

/// Serializes float32 weights to safetensors bytes (names sorted, so equal weights give equal
/// bytes).
pub fn weights_to_bytes(weights: &Weights) -> Result<Vec<u8>> {
    weights_to_bytes_as(weights, WeightDtype::Float32)
}

/// Serializes weights to safetensors bytes, stored as `dtype`.
pub fn weights_to_bytes_as(weights: &Weights, dtype: WeightDtype) -> Result<Vec<u8>> {
    let converted: Vec<(&String, Tensor)> = weights
        .iter()
        .map(|(k, t)| Ok((k, t.to_dtype(dtype.dtype())?)))
        .collect::<Result<_>>()?;
    let data: Vec<(&String, &Tensor)> = converted.iter().map(|(k, t)| (*k, t)).collect();
    safetensors::tensor::serialize(data, None).map_err(|e| {
        Error::Candle(candle_core::Error::Msg(format!(
            "cannot serialize weights: {e}"
        )))
    })
}

/// Writes the model directory: config.json, tokenizer.json, model.safetensors, the README.md
/// card and, when config.json records a training report, training.json and report.svg,
/// replaced as a whole (a model without a report removes the old one's). A kill at any moment leaves a directory that loads as the old
/// model or as the new one; other entries of `dir` (a checkpoint, a `.git`, the user's files)
/// are left alone.
pub fn save(
    dir: &Path,
    config: &ModelConfig,
    tokenizer: &TextTokenizer,
    weights: &Weights,
) -> Result<()> {
    save_with_hook(dir, config, tokenizer, weights, &mut |_| {
        ControlFlow::Continue(())
    })
}

/// [`save`], calling `hook` after each step that changes what is on disk; `Break` stops the
/// save right there, with nothing cleaned up, as a kill would. For tests of what a kill leaves.
#[doc(hidden)]
pub fn save_with_hook(
    dir: &Path,
    config: &ModelConfig,
    tokenizer: &TextTokenizer,
    weights: &Weights,
    hook: &mut dyn FnMut(SaveStep) -> ControlFlow<()>,
) -> Result<()> {
    if dir.as_os_str() == "-" {
        return Err(Error::Config(
            "a model is a directory of files; `-` (standard output) cannot hold one".into(),
        ));
    }
    let dtype = config.dtype.unwrap_or(WeightDtype::Float32);
    let mut files = vec![
        (WEIGHTS_FILE, weights_to_bytes_as(weights, dtype)?),
        (TOKENIZER_FILE, tokenizer.to_json()?.into_bytes()),
        (CONFIG_FILE, config.to_json().into_bytes()),
        (CARD_FILE, crate::model_card::render(config).into_bytes()),
    ];
    let mut absent = Vec::new();
    match training_report(config) {
        Some(report) => {
            files.push((TRAINING_FILE, training_json(&report)?.into_bytes()));
            files.push((REPORT_FILE, training_svg(&report)?.into_bytes()));
        }
        None => absent.extend([TRAINING_FILE, REPORT_FILE]),
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create directory", e))?;
    file_set::replace_and_remove(dir, &files, &absent, hook)
}

/// The training report config.json records, where it is one `train` wrote (a model made
/// elsewhere may record something else there).
fn training_report(config: &ModelConfig) -> Option<TrainReport> {
    serde_json::from_value(config.training.clone()?).ok()
}

/// Reads the training report of a model directory: its training.json, or for a model saved
/// without one, the report its config.json records.
pub fn read_training_report(dir: &Path) -> Result<TrainReport> {
    let path = current_path(dir, TRAINING_FILE);
    let (path, report) = if path.exists() {
        let text = read_text(&path)?;
        (path, serde_json::from_str(&text))
    } else {
        let config = current_path(dir, CONFIG_FILE);
        let text = read_text(&config)?;
        let config = ModelConfig::from_json(&text, &config)?;
        let Some(training) = config.training else {
            return Err(Error::model(
                dir,
                format!("no {TRAINING_FILE}, and config.json records no training report"),
            ));
        };
        (dir.join(CONFIG_FILE), serde_json::from_value(training))
    };
    report.map_err(|e| Error::model(&path, format!("not a training report: {e}")))
}
