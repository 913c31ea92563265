//! config.json: what a model directory holds, so that a loader can check every tensor against it.

pub use crate::encoder::Pooling;
use crate::error::{Error, Result};
use crate::tokenizer::TokenizerConfig;
pub use crate::tokenizer::Truncation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The newest config.json format this build reads. Version 2 may set `pooling` and
/// `truncation`, version 3 `ngram_buckets`; a model that keeps their defaults is written as
/// version 1, which every build reads (see [`ModelConfig::needed_format_version`]).
pub const FORMAT_VERSION: u32 = 3;

/// The value of config.json's `kind` in a pretrained encoder directory
/// ([`crate::pretrain::Pretrained`]). A classifier's config.json has no `kind`.
pub const PRETRAINED_KIND: &str = "pretrained_encoder";

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
    /// Rows of the hashed bigram table added to each word vector (see [`crate::ngram`]);
    /// absent or 0: none.
    #[serde(default, skip_serializing_if = "is_default")]
    pub ngram_buckets: usize,
    /// n in the tutorial: the width of the hidden state, per direction.
    pub hidden_size: usize,
    pub num_layers: usize,
    pub bidirectional: bool,
    /// What the head reads of the last layer's hidden states; absent: the final ones.
    #[serde(default, skip_serializing_if = "is_default")]
    pub pooling: Pooling,
    /// Output classes in the order of the head's rows.
    pub labels: Vec<String>,
    /// Other names data files use for the labels (e.g. "0" -> "negative"), so `eval` reads
    /// them as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub label_aliases: BTreeMap<String, String>,
    /// Texts are truncated to this many tokens.
    pub max_length: usize,
    /// Which tokens a longer text keeps; absent: the first ones.
    #[serde(default, skip_serializing_if = "is_default")]
    pub truncation: Truncation,
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
        self.encoder_shape().num_directions()
    }

    /// Width of a layer's states, both directions: what the layer above reads at each step.
    pub fn state_size(&self) -> usize {
        self.encoder_shape().state_size()
    }

    /// Width of the sentence vector that the head reads.
    pub fn feature_size(&self) -> usize {
        self.state_size() * self.pooling.width()
    }

    /// The oldest format that can hold this config: 3 with `ngram_buckets`, else 2 where
    /// `pooling` or `truncation` leave their defaults, else 1; so that an older build refuses
    /// the model instead of reading it without them.
    pub fn needed_format_version(&self) -> u32 {
        self.options_set()
            .iter()
            .map(|&(_, v)| v)
            .max()
            .unwrap_or(1)
    }

    /// The options set to other than their defaults, each with the format version that
    /// brought it.
    fn options_set(&self) -> Vec<(&'static str, u32)> {
        let set = [
            ("pooling", self.pooling != Pooling::default(), 2),
            ("truncation", self.truncation != Truncation::default(), 2),
            ("ngram_buckets", self.ngram_buckets > 0, 3),
        ];
        (set.into_iter())
            .filter(|&(_, on, _)| on)
            .map(|(name, _, version)| (name, version))
            .collect()
    }

    /// The embedding and the encoder, without the head.
    pub fn encoder_shape(&self) -> EncoderShape {
        EncoderShape {
            cell: self.cell,
            vocab_size: self.vocab_size,
            embedding_dim: self.embedding_dim,
            hidden_size: self.hidden_size,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
        }
    }

    /// Every tensor a model with this config holds, in the order of PyTorch's state_dict.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let mut out = self.encoder_shape().tensors();
        if self.ngram_buckets > 0 {
            // After the word vectors, as in the PyTorch module.
            let shape = vec![self.ngram_buckets, self.embedding_dim];
            out.insert(1, TensorSpec::new(Role::NgramEmbedding, shape));
        }
        let labels = self.labels.len();
        out.push(TensorSpec::new(
            Role::HeadWeight,
            vec![labels, self.feature_size()],
        ));
        out.push(TensorSpec::new(Role::HeadBias, vec![labels]));
        out
    }

    /// The name and shape of every tensor, as [`tensors`](Self::tensors) lists them.
    pub fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        (self.tensors().into_iter())
            .map(|t| (t.name, t.shape))
            .collect()
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
        if self.format_version < self.needed_format_version() {
            let set: Vec<&str> = (self.options_set().into_iter())
                .filter(|&(_, version)| version > self.format_version)
                .map(|(name, _)| name)
                .collect();
            return fail(format!(
                "{} other than the default needs format_version {} or later, found {} (a \
                 build that reads only version {} would ignore it)",
                set.join(" and "),
                self.needed_format_version(),
                self.format_version,
                self.format_version.max(1)
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
        if self.ngram_buckets > crate::ngram::MAX_BUCKETS {
            return fail(format!(
                "ngram_buckets must be at most {} (found {})",
                crate::ngram::MAX_BUCKETS,
                self.ngram_buckets
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
        if value.get("kind").and_then(|k| k.as_str()) == Some(PRETRAINED_KIND) {
            return Err(Error::model(
                path,
                "a pretrained encoder, not a classifier (it has no output layer over labels); \
                 start a classifier from it with `train --init`",
            ));
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

/// Whether a field holds its default, so that config.json leaves it out.
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// One tensor of a model: its name in model.safetensors, its shape and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub role: Role,
}

impl TensorSpec {
    fn new(role: Role, shape: Vec<usize>) -> Self {
        Self {
            name: role.name(),
            shape,
            role,
        }
    }
}

/// The embedding table and the recurrent encoder: what a classifier and a pretrained encoder
/// (see [`crate::pretrain`]) share, tensor for tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderShape {
    pub cell: Cell,
    pub vocab_size: usize,
    pub embedding_dim: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub bidirectional: bool,
}

impl EncoderShape {
    pub fn num_directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Width of a layer's states, both directions.
    pub fn state_size(&self) -> usize {
        self.hidden_size * self.num_directions()
    }

    /// The embedding's and the encoder's tensors, in the order of PyTorch's state_dict.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let (gates, hidden) = (self.cell.gates() * self.hidden_size, self.hidden_size);
        let mut out = vec![TensorSpec::new(
            Role::Embedding,
            vec![self.vocab_size, self.embedding_dim],
        )];
        for layer in 0..self.num_layers {
            let input = if layer == 0 {
                self.embedding_dim
            } else {
                self.state_size()
            };
            for reverse in [false, true].into_iter().take(self.num_directions()) {
                for part in RecurrentPart::ALL {
                    let shape = match part {
                        RecurrentPart::WeightIh => vec![gates, input],
                        RecurrentPart::WeightHh => vec![gates, hidden],
                        RecurrentPart::BiasIh | RecurrentPart::BiasHh => vec![gates],
                    };
                    out.push(TensorSpec::new(
                        Role::recurrent(layer, reverse, part),
                        shape,
                    ));
                }
            }
        }
        out
    }
}

/// The embedding table's name. Training keeps this tensor apart from the others: a batch
/// updates only its own rows.
pub const EMBEDDING_TENSOR: &str = "embedding.weight";
/// The hashed bigram table's name; trained row by row like the embedding.
pub const NGRAM_EMBEDDING_TENSOR: &str = "ngram_embedding.weight";

/// What a tensor of the model is: where the network reads it and how training starts it.
///
/// The names are PyTorch's state_dict keys of a module whose attributes are `embedding`
/// (nn.Embedding), `ngram_embedding` (nn.Embedding, only with `ngram_buckets`), `encoder`
/// (nn.LSTM, nn.GRU or nn.RNN) and `head` (nn.Linear). They are the model file's public
/// contract, spelled here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The word vectors, (vocab_size, embedding_dim).
    Embedding,
    /// The hashed bigram vectors, (ngram_buckets, embedding_dim).
    NgramEmbedding,
    /// One of the four tensors of an encoder layer and direction; `reverse` is the backward
    /// direction of a bidirectional encoder.
    Recurrent {
        layer: usize,
        reverse: bool,
        part: RecurrentPart,
    },
    /// The head's weight V, (labels, feature size): directions * hidden_size, twice that for
    /// [`Pooling::LastMax`].
    HeadWeight,
    /// The head's bias, (labels).
    HeadBias,
}

/// The tensors PyTorch's recurrent layers keep per layer and direction, gates stacked in rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrentPart {
    /// (gates * hidden, input): U^T in the tutorial's notation.
    WeightIh,
    /// (gates * hidden, hidden): W^T.
    WeightHh,
    BiasIh,
    BiasHh,
}

impl RecurrentPart {
    /// In PyTorch's state_dict order.
    pub const ALL: [RecurrentPart; 4] = [
        RecurrentPart::WeightIh,
        RecurrentPart::WeightHh,
        RecurrentPart::BiasIh,
        RecurrentPart::BiasHh,
    ];

    fn stem(self) -> &'static str {
        match self {
            RecurrentPart::WeightIh => "weight_ih",
            RecurrentPart::WeightHh => "weight_hh",
            RecurrentPart::BiasIh => "bias_ih",
            RecurrentPart::BiasHh => "bias_hh",
        }
    }
}

impl Role {
    pub fn recurrent(layer: usize, reverse: bool, part: RecurrentPart) -> Self {
        Role::Recurrent {
            layer,
            reverse,
            part,
        }
    }

    /// The tensor's name: `embedding.weight`, `ngram_embedding.weight`, `encoder.weight_ih_l0`,
    /// `encoder.bias_hh_l1_reverse`, `head.weight`, ...
    pub fn name(self) -> String {
        match self {
            Role::Embedding => EMBEDDING_TENSOR.to_string(),
            Role::NgramEmbedding => NGRAM_EMBEDDING_TENSOR.to_string(),
            Role::Recurrent {
                layer,
                reverse,
                part,
            } => {
                let direction = if reverse { "_reverse" } else { "" };
                format!("encoder.{}_l{layer}{direction}", part.stem())
            }
            Role::HeadWeight => "head.weight".to_string(),
            Role::HeadBias => "head.bias".to_string(),
        }
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
            ngram_buckets: 0,
            hidden_size: 5,
            num_layers: 2,
            bidirectional: true,
            pooling: Pooling::Last,
            labels: vec!["negative".into(), "positive".into()],
            label_aliases: BTreeMap::new(),
            max_length: 512,
            truncation: Truncation::Head,
            tokenizer: TokenizerConfig::default(),
            dtype: None,
            training: None,
        }
    }

    /// The names and order of `nn.LSTM(3, 5, num_layers=2, bidirectional=True)` under
    /// `encoder`, between `nn.Embedding(10, 3)` as `embedding` and `nn.Linear(10, 2)` as `head`.
    #[test]
    fn expected_tensors_follow_pytorch_names_order_and_shapes() {
        let mut want = vec![("embedding.weight".to_string(), vec![10, 3])];
        for (suffix, input) in [("l0", 3), ("l0_reverse", 3), ("l1", 10), ("l1_reverse", 10)] {
            want.push((format!("encoder.weight_ih_{suffix}"), vec![20, input]));
            want.push((format!("encoder.weight_hh_{suffix}"), vec![20, 5]));
            want.push((format!("encoder.bias_ih_{suffix}"), vec![20]));
            want.push((format!("encoder.bias_hh_{suffix}"), vec![20]));
        }
        want.push(("head.weight".into(), vec![2, 10]));
        want.push(("head.bias".into(), vec![2]));
        assert_eq!(config().expected_tensors(), want);
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
    fn defaults_are_left_out_of_the_json_and_options_need_version_2() {
        let mut c = config();
        c.format_version = c.needed_format_version();
        let json = c.to_json();
        assert_eq!(c.format_version, 1);
        assert!(
            !json.contains("pooling") && !json.contains("truncation") && !json.contains("ngram"),
            "{json}"
        );
        for (pooling, truncation) in [
            (Pooling::Max, Truncation::Head),
            (Pooling::Last, Truncation::Tail),
        ] {
            let mut c = config();
            (c.pooling, c.truncation) = (pooling, truncation);
            c.format_version = 1;
            let err = ModelConfig::from_json(&c.to_json(), Path::new("m/config.json"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("m/config.json") && err.contains("needs format_version 2"),
                "{err}"
            );
            c.format_version = c.needed_format_version();
            assert_eq!(c.format_version, 2);
            let json = c.to_json();
            assert_eq!(ModelConfig::from_json(&json, Path::new("x")).unwrap(), c);
        }
        let mut c = config();
        c.format_version = 2;
        let mut json: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        json["pooling"] = "median".into();
        let err = ModelConfig::from_json(&json.to_string(), Path::new("m/config.json"));
        let err = err.unwrap_err().to_string();
        assert!(
            err.contains("m/config.json") && err.contains("median"),
            "{err}"
        );
    }

    #[test]
    fn ngram_buckets_add_a_table_after_the_embedding_and_need_version_3() {
        let mut c = config();
        c.ngram_buckets = 7;
        let tensors = c.expected_tensors();
        assert_eq!(tensors[0].0, "embedding.weight");
        assert_eq!(
            tensors[1],
            ("ngram_embedding.weight".to_string(), vec![7, 3])
        );
        assert_eq!(c.parameter_count(), config().parameter_count() + 21);
        assert_eq!(c.needed_format_version(), 3);
        c.format_version = 2;
        let err = ModelConfig::from_json(&c.to_json(), Path::new("m/config.json"));
        let err = err.unwrap_err().to_string();
        assert!(
            err.contains("ngram_buckets other than the default needs format_version 3"),
            "{err}"
        );
        c.format_version = 3;
        let json = c.to_json();
        assert!(json.contains("\"ngram_buckets\": 7"), "{json}");
        assert_eq!(ModelConfig::from_json(&json, Path::new("x")).unwrap(), c);
        c.ngram_buckets = crate::ngram::MAX_BUCKETS + 1;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("ngram_buckets must be at most"), "{err}");
    }

    /// `last_max` doubles what the head reads, and only that: the layers above the first still
    /// read both directions' states.
    #[test]
    fn last_max_doubles_the_head_only() {
        let mut c = config();
        c.pooling = Pooling::LastMax;
        let tensors = c.expected_tensors();
        let shape = |name: &str| tensors.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(shape("head.weight"), [2, 20]);
        assert_eq!(shape("encoder.weight_ih_l1"), [20, 10]);
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
