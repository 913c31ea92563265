//! config.json: what a model directory holds, so that a loader can check every tensor against it.

use crate::error::{Error, Result};
use crate::tokenizer::TokenizerConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The newest config.json format this build reads and the one it writes.
pub const FORMAT_VERSION: u32 = 1;

/// Bounds on what a config may describe, far above any real model, so that no size
/// computation can overflow and a hostile config.json cannot ask for absurd allocations.
const MAX_WIDTH: usize = 1 << 31;
const MAX_LAYERS: usize = 256;
const MAX_PARAMETERS: usize = 1 << 40;

/// The recurrent cell of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// Long short-term memory: gates i, f, g, o (PyTorch's order).
    #[default]
    Lstm,
    /// Gated recurrent unit: gates r, z, n (PyTorch's order).
    Gru,
    /// The plain RNN of the tutorial: h_t = tanh(x_t U + h_{t-1} W + b).
    Rnn,
}

impl Cell {
    /// How many stacked gate blocks the weight matrices hold (PyTorch's layout).
    pub fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::Rnn => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
            Cell::Rnn => "rnn",
        }
    }
}

impl std::str::FromStr for Cell {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "lstm" => Ok(Cell::Lstm),
            "gru" => Ok(Cell::Gru),
            "rnn" => Ok(Cell::Rnn),
            other => Err(Error::Config(format!(
                "unknown cell `{other}` (expected lstm, gru or rnn)"
            ))),
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How model.safetensors stores the weights. They are float32 in memory whatever the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightDtype {
    Float32,
    Float16,
    Bfloat16,
}

impl WeightDtype {
    pub fn dtype(self) -> candle_core::DType {
        match self {
            WeightDtype::Float32 => candle_core::DType::F32,
            WeightDtype::Float16 => candle_core::DType::F16,
            WeightDtype::Bfloat16 => candle_core::DType::BF16,
        }
    }

    pub fn from_dtype(dtype: candle_core::DType) -> Option<Self> {
        match dtype {
            candle_core::DType::F32 => Some(WeightDtype::Float32),
            candle_core::DType::F16 => Some(WeightDtype::Float16),
            candle_core::DType::BF16 => Some(WeightDtype::Bfloat16),
            _ => None,
        }
    }
}

impl std::str::FromStr for WeightDtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" => Ok(WeightDtype::Float32),
            "f16" | "float16" | "half" => Ok(WeightDtype::Float16),
            "bf16" | "bfloat16" => Ok(WeightDtype::Bfloat16),
            other => Err(Error::Config(format!(
                "unknown dtype `{other}` (expected f32, f16 or bf16)"
            ))),
        }
    }
}

/// The architecture and everything needed to turn text into the model's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub format_version: u32,
    pub cell: Cell,
    /// Rows of the embedding table, equal to the tokenizer's vocabulary size.
    pub vocab_size: usize,
    /// m in the tutorial: the width of a word vector.
    pub embedding_dim: usize,
    /// n in the tutorial: the width of the hidden state, per direction.
    pub hidden_size: usize,
    pub num_layers: usize,
    pub bidirectional: bool,
    /// Output classes in the order of the head's rows.
    pub labels: Vec<String>,
    /// Other names data files use for the labels (e.g. "0" -> "negative"), so `eval` reads
    /// them as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub label_aliases: BTreeMap<String, String>,
    /// Texts are truncated to this many tokens.
    pub max_length: usize,
    pub tokenizer: TokenizerConfig,
    /// The weights' type in model.safetensors; when absent, float32, float16 and bfloat16 all load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<WeightDtype>,
    /// What training recorded (hyperparameters and figures); absent for hand-made models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
}

impl ModelConfig {
    pub fn num_directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Width of the sentence vector that the head reads.
    pub fn feature_size(&self) -> usize {
        self.hidden_size * self.num_directions()
    }

    /// Every tensor a model with this config holds, with its shape, in PyTorch's state_dict names.
    pub fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        let g = self.cell.gates() * self.hidden_size;
        let mut out = vec![(
            "embedding.weight".to_string(),
            vec![self.vocab_size, self.embedding_dim],
        )];
        for layer in 0..self.num_layers {
            let input = if layer == 0 {
                self.embedding_dim
            } else {
                self.feature_size()
            };
            for dir in 0..self.num_directions() {
                let suffix = tensor_suffix(layer, dir == 1);
                out.push((format!("encoder.weight_ih{suffix}"), vec![g, input]));
                out.push((
                    format!("encoder.weight_hh{suffix}"),
                    vec![g, self.hidden_size],
                ));
                out.push((format!("encoder.bias_ih{suffix}"), vec![g]));
                out.push((format!("encoder.bias_hh{suffix}"), vec![g]));
            }
        }
        out.push((
            "head.weight".to_string(),
            vec![self.labels.len(), self.feature_size()],
        ));
        out.push(("head.bias".to_string(), vec![self.labels.len()]));
        out
    }

    /// The label a data file's label stands for: itself, or what an alias maps it to.
    pub fn resolve_label(&self, label: &str) -> Option<usize> {
        let label = self
            .label_aliases
            .get(label)
            .map(String::as_str)
            .unwrap_or(label);
        self.labels.iter().position(|l| l == label)
    }

    /// Number of trainable scalars.
    pub fn parameter_count(&self) -> usize {
        self.expected_tensors()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// Rejects configs that cannot describe a working model.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        if self.format_version > FORMAT_VERSION {
            return fail(format!(
                "format version {} is newer than this build reads ({FORMAT_VERSION}); upgrade lstm-sentiment",
                self.format_version
            ));
        }
        if self.embedding_dim == 0 || self.hidden_size == 0 || self.num_layers == 0 {
            return fail("embedding_dim, hidden_size and num_layers must be at least 1".into());
        }
        if [self.vocab_size, self.embedding_dim, self.hidden_size]
            .iter()
            .any(|&n| n > MAX_WIDTH)
            || self.num_layers > MAX_LAYERS
        {
            return fail(format!(
                "vocab_size, embedding_dim and hidden_size must be at most {MAX_WIDTH} and \
                 num_layers at most {MAX_LAYERS} (found {}, {}, {} and {})",
                self.vocab_size, self.embedding_dim, self.hidden_size, self.num_layers
            ));
        }
        let parameters = self
            .expected_tensors()
            .iter()
            .try_fold(0usize, |sum, (_, shape)| {
                let size = shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d))?;
                sum.checked_add(size)
            });
        if parameters.is_none_or(|p| p > MAX_PARAMETERS) {
            return fail(format!(
                "these sizes make more than {MAX_PARAMETERS} parameters"
            ));
        }
        if self.vocab_size < 2 {
            return fail(format!(
                "vocab_size {} is below 2 ([PAD] and [UNK])",
                self.vocab_size
            ));
        }
        if self.labels.len() < 2 {
            return fail(format!(
                "a classifier needs at least two labels, found {:?}",
                self.labels
            ));
        }
        let mut sorted = self.labels.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.labels.len() {
            return fail(format!("labels repeat: {:?}", self.labels));
        }
        if let Some((alias, target)) = self
            .label_aliases
            .iter()
            .find(|(_, t)| !self.labels.contains(t))
        {
            return fail(format!(
                "label alias `{alias}` points to `{target}`, which is not one of the labels {:?}",
                self.labels
            ));
        }
        if self.max_length == 0 {
            return fail("max_length must be at least 1".into());
        }
        Ok(())
    }

    pub fn from_json(json: &str, path: &Path) -> Result<Self> {
        // Check the version before the fields so that a newer format gets the right message.
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::model(path, format!("not valid JSON: {e}")))?;
        if let Some(v) = value.get("format_version").and_then(|v| v.as_u64()) {
            if v > u64::from(FORMAT_VERSION) {
                return Err(Error::model(
                    path,
                    format!("format version {v} is newer than this build reads ({FORMAT_VERSION}); upgrade lstm-sentiment"),
                ));
            }
        }
        let config: ModelConfig = serde_json::from_value(value)
            .map_err(|e| Error::model(path, format!("not a model config: {e}")))?;
        config
            .validate()
            .map_err(|e| Error::model(path, e.to_string()))?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config always serializes")
    }
}

/// PyTorch's suffix for a layer and direction: `_l0`, `_l0_reverse`, `_l1`, ...
pub fn tensor_suffix(layer: usize, reverse: bool) -> String {
    if reverse {
        format!("_l{layer}_reverse")
    } else {
        format!("_l{layer}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ModelConfig {
        ModelConfig {
            format_version: FORMAT_VERSION,
            cell: Cell::Lstm,
            vocab_size: 10,
            embedding_dim: 3,
            hidden_size: 5,
            num_layers: 2,
            bidirectional: true,
            labels: vec!["negative".into(), "positive".into()],
            label_aliases: BTreeMap::new(),
            max_length: 512,
            tokenizer: TokenizerConfig::default(),
            dtype: None,
            training: None,
        }
    }

    #[test]
    fn expected_tensors_follow_pytorch_names_and_shapes() {
        let names = config().expected_tensors();
        assert_eq!(names.len(), 1 + 2 * 2 * 4 + 2);
        assert!(names.contains(&("encoder.weight_ih_l0".into(), vec![20, 3])));
        assert!(names.contains(&("encoder.weight_ih_l1_reverse".into(), vec![20, 10])));
        assert!(names.contains(&("head.weight".into(), vec![2, 10])));
    }

    #[test]
    fn newer_format_is_refused_with_a_clear_message() {
        let mut c = config();
        c.format_version = FORMAT_VERSION + 1;
        let err = ModelConfig::from_json(&c.to_json(), Path::new("m/config.json")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("m/config.json") && msg.contains("newer"),
            "{msg}"
        );
    }

    #[test]
    fn json_round_trip() {
        let c = config();
        assert_eq!(
            ModelConfig::from_json(&c.to_json(), Path::new("x")).unwrap(),
            c
        );
    }
}
