//! A set of files in one directory, replaced as a whole: wherever a save is killed, the
//! directory reads as the old set or the new one, never a mix of the two.
//!
//! The constraints shape the design. The files keep fixed names (a model directory is the
//! Hugging Face layout that users upload), which rules out versioned names behind a pointer
//! file; and the directory holds other entries that must outlive a save (a training checkpoint,
//! the `.git` of a Hub clone, the user's own files), which rules out swapping in a whole sibling
//! directory. What remains is one commit point inside the directory:
//!
//! 1. The new files are written into a fresh staging directory (`.lstm-staging-XXXXXX`) inside
//!    the directory; each file is synced, then the staging directory.
//! 2. The staging directory is renamed to [`PENDING`]. This one atomic rename is the commit:
//!    from here on the new set is the directory's.
//! 3. Each file is renamed from [`PENDING`] into place, the directory synced, and the then
//!    empty [`PENDING`] removed.
//!
//! A set may also lack a file the old one had (a model without a training report replacing one
//! with). The staging directory then holds an empty marker, `NAME.absent`, in its place; step 3
//! removes the old file, then the marker.
//!
//! Readers take each file from [`PENDING`] while it holds it (or its marker: then the file is
//! absent) and from the directory otherwise ([`current`]): before step 2 that is the old set,
//! from step 2 on the new one. The next save
//! first finishes a commit left unfinished (step 3) and discards staging directories of saves
//! that never committed.
//!
//! The guarantee is about kills and crashes. Saves to one directory are meant to run one at a
//! time, and a reader running during a save can meet files of both sets, as with any format of
//! several files: read after the save has returned.

use crate::error::{Error, Result};
use crate::fsutil::sync_dir;
use std::fs::File;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// The committed new set while it is being moved into place.
pub(crate) const PENDING: &str = ".lstm-pending";
/// Staging directories are this prefix plus a random suffix.
const STAGING_PREFIX: &str = ".lstm-staging-";
/// A file's name plus this marks, in a staging or pending directory, that the new set lacks it.
const ABSENT_SUFFIX: &str = ".absent";

/// The moments of a save at which a kill leaves something different on disk, in order.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveStep {
    /// A new file was created, still empty, in the staging directory.
    Created(&'static str),
    /// A new file was written and synced in the staging directory.
    Written(&'static str),
    /// The staging directory marks that the new set lacks this file.
    Marked(&'static str),
    /// The staging directory was synced: the new set is whole on disk but not committed.
    Staged,
    /// The staging directory became [`PENDING`]: the new set is committed.
    Committed,
    /// A committed file was moved into place.
    Moved(&'static str),
    /// A file the committed set lacks was removed from the directory, then its marker.
    Removed(&'static str),
    /// [`PENDING`] is gone: the save is complete.
    Finished,
}

/// Called after each [`SaveStep`]; `Break` stops the save right there, as a kill would.
pub(crate) type Hook<'a> = &'a mut dyn FnMut(SaveStep) -> ControlFlow<()>;

/// Why a save stopped early.
enum Stop {
    /// The hook asked to stop: nothing is cleaned up, as after a kill.
    Killed(SaveStep),
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

/// Where the file `name` of the set in `dir` is read from: inside [`PENDING`] while a committed
/// save is unfinished and has not moved it (or removed it) yet, else in `dir` itself. A path
/// that does not exist means the set lacks the file.
pub(crate) fn current(dir: &Path, name: &str) -> PathBuf {
    let pending = dir.join(PENDING);
    let exists = |path: PathBuf| path.symlink_metadata().is_ok();
    if exists(pending.join(name)) || exists(pending.join(marker(name))) {
        pending.join(name)
    } else {
        dir.join(name)
    }
}

fn marker(name: &str) -> String {
    format!("{name}{ABSENT_SUFFIX}")
}

/// Replaces the files `files` (name, contents) of `dir` as a whole, leaving every other entry
/// of `dir` alone; `dir` must exist.
pub(crate) fn replace(dir: &Path, files: &[(&'static str, Vec<u8>)], hook: Hook) -> Result<()> {
    replace_and_remove(dir, files, &[], hook)
}

/// [`replace`], where the new set also lacks the files named in `absent`: they are removed as
/// part of the same commit.
pub(crate) fn replace_and_remove(
    dir: &Path,
    files: &[(&'static str, Vec<u8>)],
    absent: &[&'static str],
    hook: Hook,
) -> Result<()> {
    let names: Vec<&'static str> = files
        .iter()
        .map(|(name, _)| *name)
        .chain(absent.iter().copied())
        .collect();
    let run = |hook: Hook| -> std::result::Result<(), Stop> {
        finish_pending(dir, &names, hook)?;
        discard_staging(dir);
        let staging = stage(dir, files, absent, hook)?;
        commit(dir, &staging, hook)?;
        finish_pending(dir, &names, hook)
    };
    run(hook).map_err(|stop| match stop {
        Stop::Failed(e) => e,
        Stop::Killed(step) => Error::io(
            dir,
            "save stopped by its hook",
            std::io::Error::other(format!("after {step:?}")),
        ),
    })
}

fn step(hook: Hook, step: SaveStep) -> std::result::Result<(), Stop> {
    match hook(step) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(Stop::Killed(step)),
    }
}

/// Step 1: the new set, whole and synced, in a fresh staging directory. A failed write removes
/// the staging directory again.
fn stage(
    dir: &Path,
    files: &[(&'static str, Vec<u8>)],
    absent: &[&'static str],
    hook: Hook,
) -> std::result::Result<PathBuf, Stop> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(STAGING_PREFIX);
    #[cfg(unix)]
    {
        // Readable by whoever may read the model (tempfile's default is owner-only), since
        // readers look inside it once it is committed; the umask applies.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o777));
    }
    let staging = builder
        .tempdir_in(dir)
        .map_err(|e| Error::io(dir, "cannot create a staging directory", e))?
        .keep();
    let written = write_files(&staging, files, absent, hook);
    if let Err(Stop::Failed(_)) = written {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written.map(|()| staging)
}

fn write_files(
    staging: &Path,
    files: &[(&'static str, Vec<u8>)],
    absent: &[&'static str],
    hook: Hook,
) -> std::result::Result<(), Stop> {
    for (name, bytes) in files {
        let path = staging.join(name);
        let mut file = File::create(&path).map_err(|e| Error::io(&path, "cannot write", e))?;
        step(hook, SaveStep::Created(name))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io(&path, "cannot write", e))?;
        step(hook, SaveStep::Written(name))?;
    }
    for name in absent {
        let path = staging.join(marker(name));
        File::create(&path).map_err(|e| Error::io(&path, "cannot write", e))?;
        step(hook, SaveStep::Marked(name))?;
    }
    sync_dir(staging)?;
    step(hook, SaveStep::Staged)
}

/// Step 2: the commit.
fn commit(dir: &Path, staging: &Path, hook: Hook) -> std::result::Result<(), Stop> {
    let pending = dir.join(PENDING);
    std::fs::rename(staging, &pending).map_err(|e| Error::io(&pending, "cannot commit", e))?;
    sync_dir(dir)?;
    step(hook, SaveStep::Committed)
}

/// Step 3, also run first by every save to finish one that was killed after its commit.
fn finish_pending(dir: &Path, names: &[&'static str], hook: Hook) -> std::result::Result<(), Stop> {
    let pending = dir.join(PENDING);
    if pending.symlink_metadata().is_err() {
        return Ok(());
    }
    for name in names {
        let from = pending.join(name);
        let mark = pending.join(marker(name));
        if from.symlink_metadata().is_ok() {
            let to = dir.join(name);
            std::fs::rename(&from, &to).map_err(|e| Error::io(&to, "cannot replace", e))?;
            step(hook, SaveStep::Moved(name))?;
        } else if mark.symlink_metadata().is_ok() {
            let old = dir.join(name);
            match std::fs::remove_file(&old) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&old, "cannot remove", e).into())
                }
                _ => {}
            }
            std::fs::remove_file(&mark).map_err(|e| Error::io(&mark, "cannot remove", e))?;
            step(hook, SaveStep::Removed(name))?;
        }
    }
    sync_dir(dir)?;
    std::fs::remove_dir(&pending).map_err(|e| {
        Error::io(
            &pending,
            "cannot remove (does it hold files that are not part of a save?)",
            e,
        )
    })?;
    sync_dir(dir)?;
    step(hook, SaveStep::Finished)
}

/// Removes the staging directories of saves that never committed. Best effort: one that cannot
/// be removed is hidden and harmless.
fn discard_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_staging = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(STAGING_PREFIX));
        if is_staging && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(tag: &str) -> Vec<(&'static str, Vec<u8>)> {
        ["a.json", "b.bin"]
            .into_iter()
            .map(|name| (name, format!("{tag} {name}").into_bytes()))
            .collect()
    }

    fn read_set(dir: &Path) -> Vec<String> {
        ["a.json", "b.bin"]
            .into_iter()
            .map(|name| std::fs::read_to_string(current(dir, name)).unwrap_or_default())
            .collect()
    }

    fn all_steps(tmp: &Path) -> Vec<SaveStep> {
        let mut steps = Vec::new();
        replace(tmp, &set("old"), &mut |s| {
            steps.push(s);
            ControlFlow::Continue(())
        })
        .unwrap();
        steps
    }

    #[test]
    fn every_kill_point_leaves_the_old_set_or_the_new_one() {
        let probe = tempfile::tempdir().unwrap();
        let steps = all_steps(probe.path());
        assert_eq!(steps.len(), 2 + 2 + 1 + 1 + 2 + 1);
        for (i, _) in steps.iter().enumerate() {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            replace(dir, &set("old"), &mut |_| ControlFlow::Continue(())).unwrap();
            let mut seen = 0;
            let killed = replace(dir, &set("new"), &mut |_| {
                seen += 1;
                if seen > i {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            assert!(killed.is_err());
            let after = read_set(dir);
            assert!(
                after == ["old a.json", "old b.bin"] || after == ["new a.json", "new b.bin"],
                "killed after {:?}: {after:?}",
                steps[i]
            );
            // The next save tidies up and wins.
            replace(dir, &set("next"), &mut |_| ControlFlow::Continue(())).unwrap();
            assert_eq!(read_set(dir), ["next a.json", "next b.bin"]);
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            assert_eq!(names, ["a.json", "b.bin"], "killed after {:?}", steps[i]);
        }
    }

    /// A save of a set without `b.bin` over one with it, killed after step `kill` (none: not
    /// killed); the steps it went through.
    fn save_without_b(dir: &Path, kill: Option<usize>) -> Vec<SaveStep> {
        let mut steps = Vec::new();
        let files = [("a.json", b"new a.json".to_vec())];
        let result = replace_and_remove(dir, &files, &["b.bin"], &mut |s| {
            steps.push(s);
            if Some(steps.len() - 1) == kill {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(result.is_err(), kill.is_some());
        steps
    }

    #[test]
    fn a_file_the_new_set_lacks_goes_with_the_commit() {
        let probe = tempfile::tempdir().unwrap();
        let steps = save_without_b(probe.path(), None);
        assert!(steps.contains(&SaveStep::Marked("b.bin")), "{steps:?}");
        for (i, step) in steps.iter().enumerate() {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            replace(dir, &set("old"), &mut |_| ControlFlow::Continue(())).unwrap();
            save_without_b(dir, Some(i));
            let after = read_set(dir);
            assert!(
                after == ["old a.json", "old b.bin"] || after == ["new a.json", ""],
                "killed after {step:?}: {after:?}"
            );
            save_without_b(dir, None);
            assert_eq!(read_set(dir), ["new a.json", ""], "killed after {step:?}");
            let names: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            assert_eq!(names, ["a.json"], "killed after {step:?}");
        }
    }
}
