//! The classifier users hold: a loaded model that predicts, embeds and evaluates.

use crate::calibration::Calibration;
use crate::config::ModelConfig;
use crate::data::{label_list, Example};
use crate::device::DeviceSpec;
use crate::encoder::Kernel;
use crate::error::{Error, Result};
use crate::metrics::Evaluation;
use crate::model::{Model, Weights};
use crate::model_dir::{self, ModelFiles};
use crate::tokenizer::TextTokenizer;
use candle_core::{Device, Tensor};
use serde::Serialize;
use std::path::Path;

/// How many texts go through the network at once when predicting many.
const PREDICT_BATCH: usize = 256;

/// The default of [`Classifier::with_word_cache`].
pub const DEFAULT_WORD_CACHE: usize = 64 << 20;

/// One text's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The most probable label.
    pub label: String,
    /// Its probability.
    pub score: f32,
    /// Every label with its probability, in the model's label order.
    pub probs: Vec<(String, f32)>,
}

/// A loaded model. It is `Send + Sync`: share one (e.g. in an `Arc`) across threads.
///
/// ```
/// let classifier = lstm_sentiment::Classifier::builtin()?;
/// let p = classifier.predict("A wonderful, moving film. I loved every minute of it.")?;
/// assert_eq!(p.label, "positive");
/// # Ok::<(), lstm_sentiment::Error>(())
/// ```
#[derive(Clone)]
pub struct Classifier {
    config: ModelConfig,
    tokenizer: TextTokenizer,
    weights: Weights,
    model: Model,
    device: Device,
}

impl Classifier {
    /// Loads a model directory (config.json, tokenizer.json, model.safetensors).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let device = Device::Cpu;
        Self::from_files(model_dir::load(dir.as_ref(), &device)?, device)
    }

    /// Loads `hf:owner/name[@revision]` from the Hugging Face Hub (through its local cache; with
    /// `offline`, only the cache), or else a local directory.
    pub fn load_any(spec: &str, offline: bool) -> Result<Self> {
        match crate::hub::HubModel::parse(spec) {
            Some(hub) => {
                let device = Device::Cpu;
                let files = model_dir::load_snapshot(&hub?.fetch(offline)?, &device)?;
                Self::from_files(files, device)
            }
            None => Self::load(spec),
        }
    }

    /// The sentiment model built into this crate (labels `negative`, `positive`).
    pub fn builtin() -> Result<Self> {
        let device = Device::Cpu;
        Self::from_files(crate::builtin::files(&device)?, device)
    }

    pub(crate) fn from_files(files: ModelFiles, device: Device) -> Result<Self> {
        let model = Model::from_weights(&files.config, &files.weights)?
            .with_predict_cache(DEFAULT_WORD_CACHE)?;
        Ok(Self {
            config: files.config,
            tokenizer: files.tokenizer,
            weights: files.weights,
            model,
            device,
        })
    }

    /// The model with its weights on `device` (unchanged if they are there already); its
    /// predictions then run there. Training picks its device through
    /// [`crate::TrainConfig::device`].
    ///
    /// ```
    /// use lstm_sentiment::{Classifier, DeviceSpec};
    /// let on_cpu = Classifier::builtin()?.to_device(DeviceSpec::Cpu)?;
    /// assert!(on_cpu.device().is_cpu());
    /// # Ok::<(), lstm_sentiment::Error>(())
    /// ```
    pub fn to_device(self, device: DeviceSpec) -> Result<Self> {
        let device = device.open()?;
        if device.same_device(&self.device) {
            return Ok(self);
        }
        let weights = self
            .weights
            .iter()
            .map(|(name, t)| Ok((name.clone(), t.to_device(&device)?)))
            .collect::<Result<Weights>>()?;
        let files = ModelFiles {
            config: self.config,
            tokenizer: self.tokenizer,
            weights,
        };
        Self::from_files(files, device)
    }

    /// With `on`, predictions multiply in bfloat16 with float32 sums, on CPUs with AVX512-BF16
    /// (AMD Zen 4 and later, Intel Cooper Lake and Sapphire Rapids and later); an error
    /// elsewhere. Faster (docs/bf16.md), and probabilities move: by 4e-5 to 1.2e-4 on average
    /// and at most 0.011 over the texts of `scripts/model/bf16_agreement.py`, where one label in
    /// 15 files of 872 to 2000 texts changed. Training is not affected.
    pub fn with_bf16(mut self, on: bool) -> Result<Self> {
        if on && !self.device.is_cpu() {
            return Err(Error::Config(
                "bfloat16 prediction is for the CPU; this model is on a GPU".into(),
            ));
        }
        if on && !crate::encoder::bf16_available() {
            return Err(Error::Config(
                "bfloat16 prediction needs a CPU with AVX512-BF16, which this one lacks".into(),
            ));
        }
        let kernel = if on { Kernel::Bf16 } else { Kernel::Auto };
        self.model = self.model.with_kernel(kernel);
        Ok(self)
    }

    /// Keeps up to `max_bytes` of word rows for prediction (0: none); the default is
    /// [`DEFAULT_WORD_CACHE`]. The first layer's input side, a word vector times W_ih, depends on
    /// the word alone: a word's row is kept from the second time it is worked out and then read,
    /// so texts of words met before cost only their recurrent products. Rows are kept for the
    /// ids that fit the budget, the most frequent words in a vocabulary built here, and take
    /// memory only once kept; the others are worked out per batch. With hashed bigrams
    /// ([`crate::ngram`]) each bucket's row is kept likewise: words take up to half of
    /// `max_bytes`, buckets the rest. Results are the same, bit for bit, either way.
    pub fn with_word_cache(mut self, max_bytes: usize) -> Result<Self> {
        self.model = self.model.with_predict_cache(max_bytes)?;
        Ok(self)
    }

    /// Where the weights live and predictions run.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Writes the model directory, replaced as a whole: a kill at any moment leaves the old model
    /// or this one. Other entries of the directory are left alone.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        model_dir::save(dir.as_ref(), &self.config, &self.tokenizer, &self.weights)
    }

    /// Writes the model directory with the weights stored as `dtype` (float16 and bfloat16 halve
    /// the file; predictions move by at most about 1e-3 and 1e-2 in probability respectively).
    pub fn save_as(&self, dir: impl AsRef<Path>, dtype: crate::config::WeightDtype) -> Result<()> {
        let mut config = self.config.clone();
        config.dtype = Some(dtype);
        model_dir::save(dir.as_ref(), &config, &self.tokenizer, &self.weights)
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn labels(&self) -> &[String] {
        &self.config.labels
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Named weights, as saved.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Classifies one text.
    pub fn predict(&self, text: &str) -> Result<Prediction> {
        let mut out = self.predict_batch(&[text])?;
        Ok(out.remove(0))
    }

    /// Classifies many texts; results come back in input order.
    pub fn predict_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Prediction>> {
        let probs = self.probabilities(texts)?;
        Ok(probs
            .iter()
            .map(|p| prediction(&self.config.labels, p))
            .collect())
    }

    /// Every label's probability, in the model's label order, one row per text.
    pub(crate) fn probabilities<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        self.run(texts, |out| {
            Ok(candle_nn::ops::softmax_last_dim(&out.logits)?)
        })
    }

    /// Raw logits (before softmax), one row per text.
    pub fn logits<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        self.run(texts, |out| Ok(out.logits.clone()))
    }

    /// Sentence vectors: what the head reads of each text, by default the encoder's final hidden
    /// state (forward then backward; see [`crate::Pooling`]).
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        self.run(texts, |out| Ok(out.features.clone()))
    }

    /// Scores labelled examples, calibration included. Every example's label must be one of the
    /// model's.
    pub fn evaluate(&self, examples: &[Example]) -> Result<Evaluation> {
        let gold = gold_labels(&self.config, examples)?;
        let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
        evaluation(&self.config.labels, &gold, &self.probabilities(&texts)?)
    }

    /// The index of a label, or of the label an alias in config.json stands for.
    pub fn label_index(&self, label: &str) -> Option<usize> {
        self.config.resolve_label(label)
    }

    /// Records other names for the labels (see [`ModelConfig::label_aliases`]).
    pub fn set_label_aliases(
        &mut self,
        aliases: std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        let mut config = self.config.clone();
        config.label_aliases = aliases;
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Encodes, sorts by length (less padding), runs in batches, and restores input order.
    fn run<S: AsRef<str>>(
        &self,
        texts: &[S],
        f: impl Fn(&crate::model::Output) -> Result<Tensor>,
    ) -> Result<Vec<Vec<f32>>> {
        let (max_len, side) = (self.config.max_length, self.config.truncation);
        let tokenizer = &self.tokenizer;
        // One text (the latency case) skips the parallel machinery.
        let ids = match texts {
            [text] => vec![tokenizer.encode_truncated(text.as_ref(), max_len, side)?],
            _ => {
                let texts: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
                tokenizer.encode_batch_truncated(&texts, max_len, side)?
            }
        };
        self.run_ids(&ids, f)
    }

    /// Runs token id sequences through the network in batches, sorted by length; one row of
    /// `f`'s output per sequence, in input order.
    pub(crate) fn run_ids(
        &self,
        ids: &[Vec<u32>],
        f: impl Fn(&crate::model::Output) -> Result<Tensor>,
    ) -> Result<Vec<Vec<f32>>> {
        let mut rows = vec![Vec::new(); ids.len()];
        let (model, device) = (&self.model, &self.device);
        model.forward_sorted(ids, PREDICT_BATCH, device, |texts, out| {
            for (&i, row) in texts.iter().zip(f(out)?.to_vec2::<f32>()?) {
                rows[i] = row;
            }
            Ok::<_, Error>(())
        })?;
        Ok(rows)
    }
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("cell", &self.config.cell)
            .field("layers", &self.config.num_layers)
            .field("hidden_size", &self.config.hidden_size)
            .field("bidirectional", &self.config.bidirectional)
            .field("labels", &self.config.labels)
            .field("vocab_size", &self.config.vocab_size)
            .finish()
    }
}

/// The answer for one text from its probabilities, given in `labels`' order.
pub(crate) fn prediction(labels: &[String], probs: &[f32]) -> Prediction {
    let best = argmax(probs);
    Prediction {
        label: labels[best].clone(),
        score: probs[best],
        probs: labels.iter().cloned().zip(probs.iter().copied()).collect(),
    }
}

/// Each example's label as an index into `config`'s labels, aliases resolved; an error names
/// the first example whose label the model does not know.
pub(crate) fn gold_labels(config: &ModelConfig, examples: &[Example]) -> Result<Vec<usize>> {
    examples
        .iter()
        .enumerate()
        .map(|(i, e)| {
            config.resolve_label(&e.label).ok_or_else(|| {
                let aliases: Vec<&String> = config.label_aliases.keys().collect();
                Error::Config(format!(
                    "example {} has label `{}`, which the model does not know (its labels: {}{})",
                    i + 1,
                    e.label,
                    label_list(&config.labels),
                    if aliases.is_empty() {
                        String::new()
                    } else {
                        format!("; aliases: {}", label_list(&aliases))
                    }
                ))
            })
        })
        .collect()
}

/// Accuracy, per-label figures and calibration from each text's probabilities (rows in
/// `labels`' order) and its gold label.
pub(crate) fn evaluation(
    labels: &[String],
    gold: &[usize],
    probs: &[Vec<f32>],
) -> Result<Evaluation> {
    let predicted: Vec<usize> = probs.iter().map(|row| argmax(row)).collect();
    let confidence: Vec<f32> = probs.iter().zip(&predicted).map(|(p, &i)| p[i]).collect();
    let correct: Vec<bool> = gold.iter().zip(&predicted).map(|(g, p)| g == p).collect();
    let calibration = Calibration::from_predictions(&confidence, &correct)?;
    Ok(Evaluation::from_predictions(labels, gold, &predicted)?.with_calibration(calibration))
}

/// Index of the largest value; the first one on ties.
pub(crate) fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Classifier>();
}
