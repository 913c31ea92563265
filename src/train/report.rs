//! What a run tells its caller: [`TrainEvent`]s as it goes, a [`TrainReport`] at the end.

use super::TrainConfig;
use crate::error::Divergence;
use crate::metrics::ConfusionMatrix;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use std::path::PathBuf;

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// The dev figures are 0 in a run without a dev set (`dev_fraction` 0).
    pub dev_loss: f64,
    pub dev_accuracy: f64,
    pub dev_macro_f1: f64,
    pub seconds: f64,
    pub tokens_per_second: f64,
    /// The learning rate of the epoch's last step (the embedding table's is this times
    /// `embedding_lr_scale`); 0 where a stored record lacks it.
    #[serde(default)]
    pub lr: f64,
    /// Whether this epoch's weights are the best so far (and so kept).
    pub best: bool,
}

/// Progress reports, in order: one `Started`, then `Step`s and an `Epoch` per epoch.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    Started {
        /// The first epoch this run will train (above 1 when resuming).
        first_epoch: usize,
        train_examples: usize,
        /// The training examples' tokens as read (after truncation).
        train_tokens: usize,
        dev_examples: usize,
        vocab_size: usize,
        labels: Vec<String>,
        steps_per_epoch: usize,
        parameters: usize,
        /// The adversarial move the run trains with (0: none), as `auto` chose it or as given.
        adversarial: f64,
        /// The most epochs the run runs, as `auto` chose it or as given.
        epochs: usize,
        /// The decay of the average of the weights that the run scores and keeps (0: none).
        ema: f64,
    },
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        /// Running means over the epoch so far.
        loss: f64,
        accuracy: f64,
        tokens_per_second: f64,
        /// The learning rate this step used.
        lr: f64,
    },
    Epoch(EpochRecord),
    /// The embedding table was started from word vectors covering `matched` of `words`
    /// vocabulary words.
    Embeddings {
        matched: usize,
        words: usize,
    },
    /// A checkpoint was written after this epoch.
    Checkpoint {
        epoch: usize,
        path: PathBuf,
    },
    /// The embedding and the encoder start from a pretrained encoder (`objective`, with
    /// `vocab_size` words): the built-in Chinese encoder when `builtin`.
    PretrainedEncoder {
        objective: crate::pretrain::Objective,
        vocab_size: usize,
        builtin: bool,
    },
    /// Progress of the language-model pretraining that runs first.
    Pretraining(crate::pretrain::PretrainEvent),
    /// An event of the teacher run that self-training starts with.
    Teacher(Box<TrainEvent>),
    /// The teacher has labelled the unlabelled texts; the student starts next.
    PseudoLabels(SelfTraining),
}

/// What self-training added to the student's training data, and the teacher that labelled it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfTraining {
    /// Texts in the unlabelled file.
    pub texts: usize,
    /// Texts added as training rows, per label in the model's label order.
    pub kept: Vec<(String, usize)>,
    /// The teacher's lowest probability among the added rows (0 when none were added).
    pub min_confidence: f64,
    /// The teacher's kept epoch, its dev accuracy and its training time.
    pub teacher_epoch: usize,
    pub teacher_dev_accuracy: f64,
    pub teacher_seconds: f64,
}

/// The callback a run reports to; `ControlFlow::Break` asks it to stop after the current step.
pub(super) type OnEvent<'e> = &'e mut dyn FnMut(&TrainEvent) -> ControlFlow<()>;

/// The outcome of a run, also recorded in the model's config.json under `training`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    pub config: TrainConfig,
    pub train_examples: usize,
    pub dev_examples: usize,
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose weights were kept: the best on dev, or without a dev set the last.
    pub best_epoch: usize,
    pub dev_accuracy: f64,
    pub dev_macro_f1: f64,
    pub seconds: f64,
    /// True when the callback asked to stop before the last epoch.
    pub interrupted: bool,
    /// Where the loss, a gradient or the weights turned non-finite, when they did. The run
    /// stopped there and kept its best epoch with finite weights; without one, training
    /// returns [`crate::Error::Diverged`] instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<Divergence>,
    /// The kept epoch's confusion matrix on dev; `None` without a dev set, above
    /// [`crate::metrics::CONFUSION_MATRIX_MAX_LABELS`] labels, and in reports written before
    /// it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_confusion: Option<ConfusionMatrix>,
    /// With self-training, what the teacher added (this report is the student's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_training: Option<SelfTraining>,
}
