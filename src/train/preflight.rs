//! Checks made before a run's first step, so that a run which cannot finish fails at once
//! rather than after its epochs: the files it reads, the directories it writes, its memory.

use super::{Checkpointing, EmbeddingInit, EncoderInit, TrainConfig};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::memory;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Checks that `dir` can become a directory of files: it is a directory that accepts a new
/// file, or it does not exist yet and its nearest existing ancestor is such a directory.
/// Nothing is left behind.
pub fn check_writable_dir(dir: &Path) -> Result<()> {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        let message = if existing == dir {
            "exists and is not a directory".to_string()
        } else {
            format!(
                "cannot be created: {} is not a directory",
                existing.display()
            )
        };
        return Err(Error::data(dir, 0, message));
    }
    probe(existing)
}

/// Creates and removes a file in `dir`: the only sure test of writing (permissions, read-only
/// mounts and quotas all speak here).
fn probe(dir: &Path) -> Result<()> {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        ".lstm-sentiment-probe-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io(dir, "cannot write here", e))?;
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, "cannot remove", e))
}

/// The files a run will read and the checkpoint directory it will write.
pub(super) fn check_files(config: &TrainConfig, checkpointing: &Checkpointing) -> Result<()> {
    let readable = |path: &Path| {
        std::fs::File::open(path)
            .map(drop)
            .map_err(|e| Error::io(path, "cannot read", e))
    };
    match &config.embeddings {
        EmbeddingInit::Random
        | EmbeddingInit::Word2Vec {
            unlabeled: None, ..
        } => {}
        EmbeddingInit::Vectors { path } => readable(path)?,
        EmbeddingInit::Word2Vec {
            unlabeled: Some(path),
            ..
        } => readable(path)?,
    }
    match &config.encoder {
        EncoderInit::Random
        | EncoderInit::PretrainLm {
            unlabeled: None, ..
        } => {}
        EncoderInit::PretrainLm {
            unlabeled: Some(path),
            ..
        } => readable(path)?,
        // Read whole before the run starts.
        EncoderInit::Pretrained { .. } | EncoderInit::BuiltinChinese | EncoderInit::Auto => {}
    }
    if let Some(self_train) = &config.self_train {
        readable(&self_train.unlabeled)?;
    }
    match &checkpointing.dir {
        Some(dir) => check_writable_dir(dir),
        None => Ok(()),
    }
}

/// Refuses a model whose training cannot fit in the machine's memory. Counted: the weights,
/// AdamW's two moments and the gradients (four float32 copies of every parameter), and one
/// batch's gate activations of every layer and step, kept for the backward pass.
pub(super) fn check_memory(model: &ModelConfig, batch: usize, longest: usize) -> Result<()> {
    let parameters = model.parameter_count() as u128;
    let activations = [
        batch,
        longest.max(1),
        model.num_layers,
        model.num_directions(),
        model.cell.gates(),
        model.hidden_size,
    ]
    .iter()
    .fold(1u128, |p, &d| p.saturating_mul(d as u128));
    let bytes = memory::f32_bytes(parameters.saturating_mul(4).saturating_add(activations));
    memory::check(
        "training",
        bytes,
        &format!(
            "{parameters} parameters with their gradients and AdamW state, and the activations \
             of batches of {batch}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_or_a_path_through_a_file_is_not_a_writable_directory() {
        let dir = tempfile::tempdir().unwrap();
        check_writable_dir(dir.path()).unwrap();
        check_writable_dir(&dir.path().join("new/deeper")).unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = check_writable_dir(&file).unwrap_err().to_string();
        assert!(err.contains("exists and is not a directory"), "{err}");
        let err = check_writable_dir(&file.join("below"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a directory"), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "probe left behind"
        );
    }
}
