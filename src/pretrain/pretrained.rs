//! A pretrained encoder directory: config.json (marked as a pretrained encoder, with its
//! objective), tokenizer.json and model.safetensors holding `embedding.*` and `encoder.*` named
//! exactly as a classifier's, plus the objective's own tensors (`lm.*` or `autoencoder.*`).
//! Saves replace the three files as one, as a model directory's do.

use super::config::Objective;
use super::objective;
use crate::config::EncoderShape;
use crate::error::{Error, Result};
use crate::file_set;
use crate::model::Weights;
use crate::model_dir::{
    read_expected, read_text, weights_to_bytes, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE,
};
use crate::tokenizer::{TextTokenizer, TokenizerConfig};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use std::path::Path;

pub use crate::config::PRETRAINED_KIND;

/// The newest pretrained-encoder format this build reads.
pub const PRETRAINED_FORMAT_VERSION: u32 = 1;

/// config.json of a pretrained encoder directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainedConfig {
    pub format_version: u32,
    /// Always [`PRETRAINED_KIND`].
    pub kind: String,
    pub objective: Objective,
    #[serde(flatten)]
    pub shape: EncoderShape,
    /// The window length pretraining read texts in.
    pub max_length: usize,
    /// How tokenizer.json was built.
    pub tokenizer: TokenizerConfig,
    /// What pretraining recorded (hyperparameters and figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
}

impl PretrainedConfig {
    /// Every tensor of the directory: the embedding and the encoder, then the objective's.
    pub fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        let mut out: Vec<(String, Vec<usize>)> = (self.shape.tensors().into_iter())
            .map(|t| (t.name, t.shape))
            .collect();
        out.extend(objective::tensors(self.objective, &self.shape));
        out
    }

    fn from_json(json: &str, path: &Path) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::model(path, format!("not valid JSON: {e}")))?;
        if value.get("kind").and_then(|k| k.as_str()) != Some(PRETRAINED_KIND) {
            return Err(Error::model(
                path,
                format!(
                    "not a pretrained encoder (config.json lacks \"kind\": \"{PRETRAINED_KIND}\"; \
                     `lstm-sentiment pretrain` writes one)"
                ),
            ));
        }
        let config: Self = serde_json::from_value(value)
            .map_err(|e| Error::model(path, format!("not a pretrained encoder config: {e}")))?;
        if config.format_version > PRETRAINED_FORMAT_VERSION {
            return Err(Error::model(
                path,
                format!(
                    "format version {} is newer than this build reads ({PRETRAINED_FORMAT_VERSION}); upgrade lstm-sentiment",
                    config.format_version
                ),
            ));
        }
        let s = &config.shape;
        if s.embedding_dim == 0 || s.hidden_size == 0 || s.num_layers == 0 || s.vocab_size < 2 {
            return Err(Error::model(
                path,
                "embedding_dim, hidden_size and num_layers must be at least 1, vocab_size at least 2",
            ));
        }
        Ok(config)
    }
}

impl PretrainedConfig {
    /// Reads and checks config.json of the pretrained encoder directory `dir`, alone.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = file_set::current(dir, CONFIG_FILE);
        Self::from_json(&read_text(&path)?, &path)
    }
}

/// The contents of a pretrained encoder's three files, each with the path errors name.
pub(crate) struct Files<'a> {
    pub config: (&'a str, &'a Path),
    pub tokenizer: (&'a str, &'a Path),
    pub weights: (&'a [u8], &'a Path),
}

/// A pretrained encoder: its config, tokenizer and weights.
#[derive(Debug, Clone)]
pub struct Pretrained {
    pub config: PretrainedConfig,
    pub tokenizer: TextTokenizer,
    pub weights: Weights,
}

impl Pretrained {
    /// Reads and checks a pretrained encoder directory: every tensor's name and shape against
    /// config.json, the tokenizer's size against `vocab_size`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::model(
                dir,
                "not a pretrained encoder directory (expected config.json, tokenizer.json and model.safetensors)",
            ));
        }
        let path = |name: &str| file_set::current(dir, name);
        let weights_path = path(WEIGHTS_FILE);
        let bytes =
            std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, "cannot read", e))?;
        let files = Files {
            config: (&read_text(&path(CONFIG_FILE))?, &path(CONFIG_FILE)),
            tokenizer: (&read_text(&path(TOKENIZER_FILE))?, &path(TOKENIZER_FILE)),
            weights: (&bytes, &weights_path),
        };
        Self::from_files(files, device)
    }

    /// Checks and reads the three files' contents; each comes with the path that errors name.
    pub(crate) fn from_files(files: Files, device: &Device) -> Result<Self> {
        let config = PretrainedConfig::from_json(files.config.0, files.config.1)?;
        let (tokenizer_json, tokenizer_path) = files.tokenizer;
        let tokenizer = TextTokenizer::from_json(tokenizer_json, tokenizer_path)?;
        if tokenizer.vocab_size() != config.shape.vocab_size {
            return Err(Error::model(
                tokenizer_path,
                format!(
                    "the tokenizer has {} entries but config.json says vocab_size {}",
                    tokenizer.vocab_size(),
                    config.shape.vocab_size
                ),
            ));
        }
        let what = format!("a pretrained encoder with objective {}", config.objective);
        let expected = config.expected_tensors();
        let (bytes, weights_path) = files.weights;
        let weights = read_expected(&expected, None, &what, bytes, weights_path, device)?;
        Ok(Self {
            config,
            tokenizer,
            weights,
        })
    }

    /// Writes config.json, tokenizer.json and model.safetensors (float32), replaced as one.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(&self.config)
            .map_err(|e| Error::Config(format!("cannot encode config.json: {e}")))?;
        let files = [
            (WEIGHTS_FILE, weights_to_bytes(&self.weights)?),
            (TOKENIZER_FILE, self.tokenizer.to_json()?.into_bytes()),
            (CONFIG_FILE, json.into_bytes()),
        ];
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create directory", e))?;
        file_set::replace(dir, &files, &mut |_| ControlFlow::Continue(()))
    }
}
