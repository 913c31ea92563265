//! Training checkpoints: everything a run needs to continue, in one safetensors file written
//! atomically at the end of every epoch. A kill at any moment leaves the previous checkpoint or
//! the new one, never a mix.

use super::{EpochRecord, TrainConfig};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use candle_core::{Device, Tensor};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Where a run keeps its checkpoints and whether it continues from one.
#[derive(Debug, Clone, Default)]
pub struct Checkpointing {
    /// Write a checkpoint here at the end of every epoch.
    pub dir: Option<PathBuf>,
    /// Continue from the checkpoint in `dir` (its hyperparameters and vocabulary win over the
    /// given config; the data must be the same).
    pub resume: bool,
}

/// The checkpoint's file name inside a checkpoint directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
const METADATA_KEY: &str = "lstm_sentiment_checkpoint";
/// Bumped when the layout or the meaning of the stored config changes; older builds refuse
/// newer checkpoints. Version 2 adds the learning-rate schedule, the embedding learning rate
/// and word and embedding dropout to the config, which a build reading only version 1 would
/// ignore and so resume with other learning rates. Version 3 adds hashed bigrams (the config's
/// `ngram_buckets` and the `ngram_embedding.weight` tensors) and the fine-tuning rates
/// (`encoder_lr_scale`, `gradual_unfreezing`); a run without them still writes version 2 (see
/// [`Checkpoint::version_for`]). Version 4 adds the average of the weights (the config's `ema`,
/// the progress's `average_updates` and the `average/..` tensors).
const CHECKPOINT_VERSION: u32 = 4;

/// What a kind of run keeps in its checkpoints' metadata, besides the tensors.
pub(crate) trait Resumable: Serialize + DeserializeOwned {
    /// The metadata key the progress is stored under: a checkpoint of another kind of run
    /// lacks it.
    const KEY: &'static str;
    /// The newest version this build reads.
    const VERSION: u32;
    /// What the run is, for messages ("training", "pretraining").
    const RUN: &'static str;
    fn version(&self) -> u32;
}

impl Resumable for Progress {
    const KEY: &'static str = METADATA_KEY;
    const VERSION: u32 = CHECKPOINT_VERSION;
    const RUN: &'static str = "training";
    fn version(&self) -> u32 {
        self.version
    }
}

/// The scalars of a checkpoint (stored as JSON in the safetensors metadata).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Progress {
    pub version: u32,
    pub config: TrainConfig,
    pub tokenizer_json: String,
    pub fingerprint: u64,
    /// The last finished epoch.
    pub epoch: usize,
    pub since_best: usize,
    pub records: Vec<EpochRecord>,
    pub best_epoch: usize,
    pub best_accuracy: f64,
    pub best_macro_f1: f64,
    pub dense_step: i32,
    pub sparse_step: i32,
    pub seconds: f64,
    /// Updates of the average of the weights, when the run averages them.
    #[serde(default)]
    pub average_updates: u64,
}

/// A whole checkpoint: progress plus tensors named `weights/..`, `adam_m/..`, `adam_v/..`,
/// `best/..` and, when the run averages its weights, `average/..` (each followed by the model's
/// tensor name).
pub(crate) struct Checkpoint<P = Progress> {
    pub progress: P,
    pub tensors: BTreeMap<String, Tensor>,
}

/// Where the checkpoint file of `dir` lives; `dir` may also name the file itself.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    if dir.extension().is_some_and(|e| e == "safetensors") {
        dir.to_path_buf()
    } else {
        dir.join(CHECKPOINT_FILE)
    }
}

impl<P: Resumable> Checkpoint<P> {
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create directory", e))?;
        let json = serde_json::to_string(&self.progress)
            .map_err(|e| Error::Config(format!("cannot encode the checkpoint: {e}")))?;
        let metadata = HashMap::from([(P::KEY.to_string(), json)]);
        let path = checkpoint_path(dir);
        let bytes = safetensors::tensor::serialize(self.tensors.iter(), Some(metadata))
            .map_err(|e| Error::model(&path, format!("cannot serialize the checkpoint: {e}")))?;
        write_atomic(&path, &bytes)
    }

    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let path = checkpoint_path(dir);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, "cannot read", e))?;
        let bad = |m: String| Error::model(&path, m);
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a checkpoint (not safetensors: {e})")))?;
        let json = (meta.metadata().as_ref())
            .and_then(|m| m.get(P::KEY))
            .ok_or_else(|| {
                bad(format!(
                    "not a {} checkpoint (no {} progress in its metadata)",
                    P::RUN,
                    P::RUN
                ))
            })?;
        let progress: P = serde_json::from_str(json)
            .map_err(|e| bad(format!("unreadable {} progress: {e}", P::RUN)))?;
        if progress.version() > P::VERSION {
            return Err(bad(format!(
                "checkpoint version {} is newer than this build reads ({})",
                progress.version(),
                P::VERSION
            )));
        }
        let tensors = candle_core::safetensors::load_buffer(&bytes, device)
            .map_err(|e| bad(format!("unreadable tensors: {e}")))?
            .into_iter()
            .collect();
        Ok(Self { progress, tensors })
    }

    /// The tensor `group/name` as a flat vector, or an error naming it.
    pub fn values(&self, group: &str, name: &str, origin: &Path) -> Result<Vec<f32>> {
        let key = format!("{group}/{name}");
        let t = self
            .tensors
            .get(&key)
            .ok_or_else(|| Error::model(origin, format!("checkpoint lacks tensor `{key}`")))?;
        Ok(t.flatten_all()?.to_vec1::<f32>()?)
    }
}

impl Checkpoint {
    /// The oldest version that holds a run of `config`: 4 when it averages its weights, 3 with
    /// bigrams or fine-tuning rates, else 2.
    pub fn version_for(config: &TrainConfig) -> u32 {
        let needs_3 = config.ngram_buckets.is_some_and(|k| k > 0)
            || config.encoder_lr_scale != 1.0
            || config.gradual_unfreezing;
        if config.ema.is_some_and(|d| d > 0.0) {
            CHECKPOINT_VERSION
        } else if needs_3 {
            3
        } else {
            2
        }
    }
}
