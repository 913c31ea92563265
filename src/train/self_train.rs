//! Self-training (Yarowsky 1995; Xie et al. 2020's "noisy student"): a teacher trained as the
//! config says labels a file of unlabelled texts; a student, trained the same way from fresh
//! weights on the training data plus the texts the teacher was surest of, is the model kept.
//! The student reads them with dropout, which the teacher's labels were made without, and so
//! may learn more than the teacher's strongest cues, and it learns the words only the
//! unlabelled texts hold (docs/training.md has what it gives).
//!
//! The added texts are balanced: each label keeps the same number of its most confident texts,
//! `keep` times the count of the label predicted least, so that a teacher's lean toward one
//! label does not become the student's prior. Both runs hold out the same dev part, so the
//! student is never scored on a teacher's label.
//!
//! A checkpoint directory D holds the teacher's checkpoints in `D/teacher/` while it trains,
//! then the labelled texts in `D/self_training.json`, then the student's checkpoints in D: a
//! resumed run continues wherever the stopped one was.

use super::checkpoint::{Checkpointing, CHECKPOINT_FILE};
use super::report::OnEvent;
use super::run::Run;
use super::{SelfTraining, TrainConfig, TrainEvent, TrainReport};
use crate::classifier::Classifier;
use crate::data::Example;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file in a checkpoint directory that holds the teacher's labelled texts.
pub const SELF_TRAINING_FILE: &str = "self_training.json";
/// The folder in a checkpoint directory that holds the teacher's checkpoints.
const TEACHER_DIR: &str = "teacher";

/// Whether `dir` holds a self-training run to resume: the teacher's checkpoint or its labels.
pub fn resumes_self_training(dir: &Path) -> bool {
    dir.join(SELF_TRAINING_FILE).is_file() || dir.join(TEACHER_DIR).join(CHECKPOINT_FILE).is_file()
}

/// What `self_training.json` holds: the student's config and the rows the teacher added.
#[derive(Serialize, Deserialize)]
struct Labelled {
    config: TrainConfig,
    summary: SelfTraining,
    /// (label, text)
    rows: Vec<(String, String)>,
}

/// Trains the teacher (or resumes it, or reads what it labelled), then the student.
pub(super) fn train(
    train: &[Example],
    dev: Option<&[Example]>,
    config: &TrainConfig,
    checkpointing: &Checkpointing,
    on_event: OnEvent,
) -> Result<(Classifier, TrainReport)> {
    let saved = (checkpointing.dir.as_deref()).map(|d| d.join(SELF_TRAINING_FILE));
    let resumed = saved
        .as_ref()
        .filter(|p| checkpointing.resume && p.is_file());
    let labelled = match resumed {
        Some(path) => read_labelled(path)?,
        None => match teach(
            train,
            dev,
            config,
            checkpointing,
            saved.as_deref(),
            on_event,
        )? {
            Taught::Labelled(labelled) => *labelled,
            Taught::Stopped(teacher) => return Ok(*teacher),
        },
    };
    let added: Vec<Example> = (labelled.rows.into_iter())
        .map(|(label, text)| Example { text, label })
        .collect();
    let student_dir = checkpointing.dir.clone();
    let student = Checkpointing {
        resume: checkpointing.resume
            && (student_dir.as_deref()).is_some_and(|d| d.join(CHECKPOINT_FILE).is_file()),
        dir: student_dir,
    };
    let config = TrainConfig {
        device: config.device,
        ..labelled.config
    };
    let mut run = Run::start(train, dev, &added, &config, &student, on_event)?;
    run.set_self_training(labelled.summary);
    run.epochs(on_event)?;
    run.finish()
}

enum Taught {
    Labelled(Box<Labelled>),
    /// The teacher was interrupted or diverged: its best epoch is the run's result.
    Stopped(Box<(Classifier, TrainReport)>),
}

/// Trains the teacher and labels the unlabelled texts with it; the labels go to `saved` (in
/// the checkpoint directory) before the student starts.
fn teach(
    train: &[Example],
    dev: Option<&[Example]>,
    config: &TrainConfig,
    checkpointing: &Checkpointing,
    saved: Option<&Path>,
    on_event: OnEvent,
) -> Result<Taught> {
    let teacher_dir = (checkpointing.dir.as_deref()).map(|d| d.join(TEACHER_DIR));
    let checkpoints = Checkpointing {
        resume: checkpointing.resume,
        dir: teacher_dir.clone(),
    };
    let mut teacher_event = |e: &TrainEvent| on_event(&TrainEvent::Teacher(Box::new(e.clone())));
    let mut run = Run::start(train, dev, &[], config, &checkpoints, &mut teacher_event)?;
    run.epochs(&mut teacher_event)?;
    let (teacher, report) = run.finish()?;
    if report.interrupted || report.diverged.is_some() {
        return Ok(Taught::Stopped(Box::new((teacher, report))));
    }
    // A resumed teacher's settings come from its checkpoint.
    let config = report.config.clone();
    let Some(self_train) = &config.self_train else {
        return Err(Error::Config(
            "the teacher's checkpoint does not ask for self-training".into(),
        ));
    };
    let texts = crate::data::read_lines(&self_train.unlabeled)?;
    let (rows, summary) = pseudo_labels(&teacher, &texts, self_train.keep, &report)?;
    let _ = on_event(&TrainEvent::PseudoLabels(summary.clone()));
    let labelled = Labelled {
        config,
        summary,
        rows,
    };
    if let (Some(path), Some(dir)) = (saved, teacher_dir) {
        let json = serde_json::to_vec(&labelled)
            .map_err(|e| Error::Config(format!("cannot record the teacher's labels: {e}")))?;
        write_atomic(path, &json)?;
        // The labels are safe: the teacher's checkpoint has done its work.
        let _ = std::fs::remove_file(dir.join(CHECKPOINT_FILE));
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(Taught::Labelled(Box::new(labelled)))
}

fn read_labelled(path: &Path) -> Result<Labelled> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::Config(format!(
            "{}: not the teacher's labels of a self-training run: {e}",
            path.display()
        ))
    })
}

/// The texts the teacher was surest of, the same number for every label (`keep` times the
/// count of the label predicted least), as (label, text) rows in the file's order.
fn pseudo_labels(
    teacher: &Classifier,
    texts: &[String],
    keep: f64,
    report: &TrainReport,
) -> Result<(Vec<(String, String)>, SelfTraining)> {
    let predictions = teacher.predict_batch(texts)?;
    let labels = teacher.labels();
    let mut by_label: Vec<Vec<(f32, usize)>> = vec![Vec::new(); labels.len()];
    for (i, p) in predictions.iter().enumerate() {
        if let Some(k) = labels.iter().position(|l| *l == p.label) {
            by_label[k].push((p.score, i));
        }
    }
    let rarest = by_label.iter().map(Vec::len).min().unwrap_or(0);
    // Within (0, 1] by the config's check, so at most `rarest`.
    let take = (keep * rarest as f64).floor() as usize;
    let mut picked: Vec<(usize, usize)> = Vec::new();
    let mut min_confidence = f64::INFINITY;
    for (k, group) in by_label.iter_mut().enumerate() {
        // Most confident first; equal scores in the file's order.
        group.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(score, i) in &group[..take] {
            min_confidence = min_confidence.min(f64::from(score));
            picked.push((i, k));
        }
    }
    picked.sort_unstable();
    let rows = (picked.iter())
        .map(|&(i, k)| (labels[k].clone(), texts[i].clone()))
        .collect();
    let summary = SelfTraining {
        texts: texts.len(),
        kept: labels.iter().map(|l| (l.clone(), take)).collect(),
        min_confidence: if take > 0 { min_confidence } else { 0.0 },
        teacher_epoch: report.best_epoch,
        teacher_dev_accuracy: report.dev_accuracy,
        teacher_seconds: report.seconds,
    };
    Ok((rows, summary))
}
