//! Models on the Hugging Face Hub: `hf:owner/name[@revision]`, fetched into the Hub's cache.
//!
//! The cache is the one Python's `huggingface_hub` uses, found the same way ([`cache_dir`]), and
//! laid out the same way: `models--owner--name/snapshots/COMMIT/FILE`, with `refs/BRANCH`
//! naming the commit of a branch or tag. Offline, only that cache is read; hf-hub itself does
//! not look at `HF_HUB_OFFLINE`, so [`offline_from_env`] does.
//!
//! A spec becomes paths only after every part of it has passed the Hub's own rules: the repo id
//! those of `huggingface_hub` ([`check_repo_id`]), the revision git's rules for branch names
//! ([`check_revision`]), a commit read from `refs/` must be 40 hex digits, and every file must
//! resolve, symbolic links followed, to a path under the cache directory.

use crate::error::{Error, Result};
use crate::model_dir::{CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use hf_hub::{Cache, Repo, RepoType};
use std::path::{Path, PathBuf};

/// The prefix that marks a model argument as a Hub repository.
pub const PREFIX: &str = "hf:";

/// The longest repository name the Hub accepts (the part after the owner).
const MAX_NAME: usize = 96;
/// The longest revision accepted; git's refs have no fixed limit, file names do.
const MAX_REVISION: usize = 255;

/// A Hub model repository and revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubModel {
    pub repo_id: String,
    /// A branch, tag or commit; `main` when not given.
    pub revision: String,
}

impl HubModel {
    /// Parses `hf:owner/name` or `hf:owner/name@revision`; None when `spec` lacks the prefix.
    /// Both parts are checked as the Hub checks them.
    pub fn parse(spec: &str) -> Option<Result<Self>> {
        let rest = spec.strip_prefix(PREFIX)?;
        let (repo_id, revision) = rest.split_once('@').unwrap_or((rest, "main"));
        let checked = check_repo_id(repo_id).and_then(|()| check_revision(revision));
        Some(match checked {
            Ok(()) => Ok(Self {
                repo_id: repo_id.to_string(),
                revision: revision.to_string(),
            }),
            Err(why) => Err(Error::Config(format!(
                "`{spec}` is not a Hub model: {why} (expected hf:owner/name or \
                 hf:owner/name@revision)"
            ))),
        })
    }

    fn repo(&self) -> Repo {
        Repo::with_revision(self.repo_id.clone(), RepoType::Model, self.revision.clone())
    }

    /// The local snapshot directory holding the model's three files, downloading what the
    /// cache lacks unless `offline`. Every file is checked to lie under the cache directory.
    pub fn fetch(&self, offline: bool) -> Result<PathBuf> {
        let cache = cache_dir()?;
        let files = [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE];
        let mut paths = Vec::with_capacity(files.len());
        for file in files {
            let path = if offline {
                self.cached(&cache, file)?
            } else {
                self.download(&cache, file)?
            };
            check_within(&cache, &path)?;
            paths.push(path);
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

    /// The snapshot directory of this revision in `cache`, as huggingface_hub resolves it: the
    /// commit named by `refs/REVISION`, else the revision itself if it is a commit hash.
    fn snapshot(&self, cache: &Path) -> Result<Option<PathBuf>> {
        let repo = cache.join(self.repo().folder_name());
        let reference = repo.join("refs").join(&self.revision);
        let commit = match std::fs::read_to_string(&reference) {
            Ok(text) => {
                let commit = text.trim();
                if !is_commit_hash(commit) {
                    return Err(Error::model(
                        &reference,
                        format!("holds `{commit}`, not a commit hash (40 hex digits)"),
                    ));
                }
                commit.to_string()
            }
            Err(_) if is_commit_hash(&self.revision) => self.revision.clone(),
            Err(_) => return Ok(None),
        };
        Ok(Some(repo.join("snapshots").join(commit)))
    }

    fn cached(&self, cache: &Path, file: &str) -> Result<PathBuf> {
        if let Some(snapshot) = self.snapshot(cache)? {
            let path = snapshot.join(file);
            if path.is_file() {
                return Ok(path);
            }
        }
        Err(Error::model(
            cache,
            format!(
                "{file} of {self} is not in the Hub cache and downloads are off (offline mode); \
                 fetch it once online or unset HF_HUB_OFFLINE"
            ),
        ))
    }

    fn download(&self, cache: &Path, file: &str) -> Result<PathBuf> {
        // hf-hub reads the token beside the cache it is built with; the token lives in HF_HOME
        // whatever the cache (with no home directory at all, there is no token to read).
        let token_home = hf_home().map_or_else(|_| cache.to_path_buf(), |home| home.join("hub"));
        let mut builder = hf_hub::api::sync::ApiBuilder::from_cache(Cache::new(token_home))
            .with_cache_dir(cache.to_path_buf())
            .with_progress(false);
        if let Some(endpoint) = env_value("HF_ENDPOINT") {
            builder = builder.with_endpoint(endpoint);
        }
        let api = builder
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

/// Checks a repo id as `huggingface_hub` does: `name` or `owner/name`, each part of ASCII
/// letters, digits, `-`, `_` and `.`, starting and ending with a letter, digit or `_`, the name
/// at most 96 characters; no `--` or `..` anywhere, and no `.git` at the end.
pub fn check_repo_id(repo_id: &str) -> std::result::Result<(), String> {
    let parts: Vec<&str> = repo_id.split('/').collect();
    if parts.len() > 2 {
        return Err(format!("the repo id `{repo_id}` has more than one `/`"));
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for part in &parts {
        let valid = part.chars().all(|c| word(c) || c == '-' || c == '.')
            && part.starts_with(word)
            && part.ends_with(word);
        if !valid {
            return Err(format!(
                "`{part}` in the repo id is not a name (letters, digits, `-`, `_` and `.`, \
                 starting and ending with a letter, digit or `_`)"
            ));
        }
    }
    if parts.last().is_some_and(|name| name.len() > MAX_NAME) {
        return Err(format!(
            "the repo name is longer than {MAX_NAME} characters"
        ));
    }
    if repo_id.contains("--") || repo_id.contains("..") {
        return Err(format!("the repo id `{repo_id}` holds `--` or `..`"));
    }
    if repo_id.ends_with(".git") {
        return Err(format!("the repo id `{repo_id}` ends with `.git`"));
    }
    Ok(())
}

/// Checks a revision by git's rules for branch and tag names, which keep it inside `refs/`
/// and `snapshots/`: parts separated by single `/` (so never an absolute path), none empty,
/// none starting with `.` or ending with `.lock`; no `..`, `@{`, `\`, space, control
/// character or any of `~^:?*[`; not ending with `.`, and not `@` alone.
pub fn check_revision(revision: &str) -> std::result::Result<(), String> {
    let bad = |why: &str| Err(format!("the revision `{revision}` {why}"));
    if revision.is_empty() {
        return Err("the revision is empty".to_string());
    }
    if revision.len() > MAX_REVISION {
        return bad(&format!("is longer than {MAX_REVISION} bytes"));
    }
    if revision.contains("..") || revision.contains("@{") || revision == "@" {
        return bad("holds `..` or `@{`, or is `@`");
    }
    if let Some(c) = revision
        .chars()
        .find(|&c| c.is_control() || c == ' ' || "~^:?*[\\".contains(c))
    {
        return bad(&format!("holds {c:?}"));
    }
    if revision.ends_with('.') {
        return bad("ends with `.`");
    }
    for part in revision.split('/') {
        if part.is_empty() {
            return bad("starts or ends with `/` or holds `//`");
        }
        if part.starts_with('.') || part.ends_with(".lock") {
            return bad(&format!(
                "has a part `{part}` that starts with `.` or ends with `.lock`"
            ));
        }
    }
    Ok(())
}

fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Fails unless `path`, with every symbolic link followed, lies under `cache`.
fn check_within(cache: &Path, path: &Path) -> Result<()> {
    let root = cache
        .canonicalize()
        .map_err(|e| Error::io(cache, "cannot read the Hub cache", e))?;
    let real = path
        .canonicalize()
        .map_err(|e| Error::io(path, "cannot read", e))?;
    if real.starts_with(&root) {
        Ok(())
    } else {
        Err(Error::model(
            path,
            format!(
                "leads to {}, outside the Hub cache {}; refusing to read it",
                real.display(),
                root.display()
            ),
        ))
    }
}

/// The Hub cache directory, found as `huggingface_hub` finds it: `HF_HUB_CACHE`, else
/// `HUGGINGFACE_HUB_CACHE`, else `HF_HOME/hub`, where `HF_HOME` defaults to
/// `$XDG_CACHE_HOME/huggingface` and then to `~/.cache/huggingface`. A leading `~` means the
/// home directory; empty variables count as unset.
pub fn cache_dir() -> Result<PathBuf> {
    match env_value("HF_HUB_CACHE").or_else(|| env_value("HUGGINGFACE_HUB_CACHE")) {
        Some(dir) => expand_home(&dir),
        None => Ok(hf_home()?.join("hub")),
    }
}

/// `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
fn hf_home() -> Result<PathBuf> {
    if let Some(home) = env_value("HF_HOME") {
        return expand_home(&home);
    }
    let cache = match env_value("XDG_CACHE_HOME") {
        Some(dir) => expand_home(&dir)?,
        None => home_dir()?.join(".cache"),
    };
    Ok(cache.join("huggingface"))
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn expand_home(path: &str) -> Result<PathBuf> {
    match path.strip_prefix('~') {
        Some("") => home_dir(),
        Some(rest) if rest.starts_with(['/', std::path::MAIN_SEPARATOR]) => {
            Ok(home_dir()?.join(&rest[1..]))
        }
        _ => Ok(PathBuf::from(path)),
    }
}

fn home_dir() -> Result<PathBuf> {
    env_value("HOME")
        .or_else(|| env_value("USERPROFILE"))
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::Config(
                "cannot find the Hub cache: no home directory (set HF_HOME or HF_HUB_CACHE)".into(),
            )
        })
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

    #[test]
    fn repo_ids_follow_the_hubs_rules() {
        for good in [
            "gpt2",
            "acme/tiny",
            "Foo-BAR_foo.bar123/x",
            "a/_b_",
            "o/n1.2",
        ] {
            assert_eq!(check_repo_id(good), Ok(()), "{good}");
        }
        let long = format!("a/{}", "n".repeat(97));
        for bad in [
            "", "a/b/c", "/a", "a/", ".a/b", "a/-b", "a/b.", "a--b/c", "a/b..c", "a/b.git",
            "a b/c", "a/ü", "..", "a/..", &long,
        ] {
            assert!(check_repo_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn revisions_follow_gits_branch_rules() {
        for good in [
            "main",
            "v1.0",
            "refs/pr/1",
            "feature/x-y_z",
            &"a".repeat(40),
        ] {
            assert_eq!(check_revision(good), Ok(()), "{good}");
        }
        for bad in [
            "", "..", "../x", "a/../b", "/etc", "a/", "a//b", ".hidden", "a/.b", "x.lock", "a.",
            "@", "a@{1}", "a\\b", "a b", "a:b", "a\nb", "~", "a^", "a?", "a*", "a[",
        ] {
            assert!(check_revision(bad).is_err(), "{bad:?}");
        }
    }
}
