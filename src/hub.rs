//! Models on the Hugging Face Hub: `hf:owner/name[@revision]`, fetched into the hub's usual cache.
//!
//! The cache is hf-hub's (`$HF_HOME/hub`, by default `~/.cache/huggingface/hub`), shared with
//! Python's `huggingface_hub`. Offline, only that cache is read; hf-hub itself does not look at
//! `HF_HUB_OFFLINE`, so [`offline_from_env`] does.

use crate::error::{Error, Result};
use crate::model_dir::{CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use hf_hub::{Cache, Repo, RepoType};
use std::path::{Path, PathBuf};

/// The prefix that marks a model argument as a Hub repository.
pub const PREFIX: &str = "hf:";

/// A Hub model repository and revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubModel {
    pub repo_id: String,
    /// A branch, tag or commit; `main` when not given.
    pub revision: String,
}

impl HubModel {
    /// Parses `hf:owner/name` or `hf:owner/name@revision`; None when `spec` lacks the prefix.
    pub fn parse(spec: &str) -> Option<Result<Self>> {
        let rest = spec.strip_prefix(PREFIX)?;
        let (repo_id, revision) = match rest.split_once('@') {
            Some((r, rev)) => (r, rev),
            None => (rest, "main"),
        };
        let valid = !repo_id.is_empty()
            && !revision.is_empty()
            && repo_id.split('/').count() <= 2
            && repo_id.split('/').all(|p| !p.is_empty());
        Some(if valid {
            Ok(Self {
                repo_id: repo_id.to_string(),
                revision: revision.to_string(),
            })
        } else {
            Err(Error::Config(format!(
                "`{spec}` is not a Hub model (expected hf:owner/name or hf:owner/name@revision)"
            )))
        })
    }

    fn repo(&self) -> Repo {
        Repo::with_revision(self.repo_id.clone(), RepoType::Model, self.revision.clone())
    }

    /// The local directory holding the model's three files, downloading what the cache lacks
    /// unless `offline`.
    pub fn fetch(&self, offline: bool) -> Result<PathBuf> {
        let files = [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE];
        let mut paths = Vec::with_capacity(files.len());
        for file in files {
            paths.push(if offline {
                self.cached(file)?
            } else {
                self.download(file)?
            });
        }
        let dir = paths[0].parent().map(Path::to_path_buf).unwrap_or_default();
        if paths.iter().any(|p| p.parent() != Some(dir.as_path())) {
            return Err(Error::model(
                &dir,
                format!("the files of {self} are not in one snapshot directory"),
            ));
        }
        Ok(dir)
    }

    fn cached(&self, file: &str) -> Result<PathBuf> {
        let cache = Cache::from_env();
        if let Some(path) = cache.repo(self.repo()).get(file) {
            return Ok(path);
        }
        // A commit revision has no refs/ entry: its snapshot directory is named after it.
        let snapshot = cache
            .path()
            .join(self.repo().folder_name())
            .join("snapshots")
            .join(&self.revision)
            .join(file);
        if snapshot.is_file() {
            return Ok(snapshot);
        }
        Err(Error::model(
            cache.path(),
            format!(
                "{file} of {self} is not in the Hub cache and downloads are off (offline mode); \
                 fetch it once online or unset HF_HUB_OFFLINE"
            ),
        ))
    }

    fn download(&self, file: &str) -> Result<PathBuf> {
        let api = hf_hub::api::sync::ApiBuilder::from_env()
            .with_progress(false)
            .build()
            .map_err(|e| Error::Config(format!("cannot set up the Hub client: {e}")))?;
        api.repo(self.repo()).get(file).map_err(|e| {
            Error::model(
                PathBuf::from(self.to_string()),
                format!("cannot download {file}: {e}"),
            )
        })
    }
}

impl std::fmt::Display for HubModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PREFIX}{}@{}", self.repo_id, self.revision)
    }
}

/// True when `HF_HUB_OFFLINE` is set to 1/true/yes/on, as Python's huggingface_hub reads it.
pub fn offline_from_env() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repo_and_revision() {
        let m = HubModel::parse("hf:acme/sentiment@v2").unwrap().unwrap();
        assert_eq!(
            (m.repo_id.as_str(), m.revision.as_str()),
            ("acme/sentiment", "v2")
        );
        let m = HubModel::parse("hf:acme/sentiment").unwrap().unwrap();
        assert_eq!(m.revision, "main");
        assert!(HubModel::parse("models/local").is_none());
        assert!(HubModel::parse("hf:").unwrap().is_err());
        assert!(HubModel::parse("hf:a//b").unwrap().is_err());
        assert!(HubModel::parse("hf:acme/x@").unwrap().is_err());
    }
}
