//! Writing files so that a reader, or a kill at any moment, sees the old file or the new one,
//! never half of one; and writing outputs that are not files (devices, FIFOs) as they are.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How many symbolic links [`write_output_file`] follows before giving up (Linux's own limit).
const MAX_SYMLINKS: usize = 40;

/// Writes `bytes` to `path` through a uniquely named temporary file in the same directory:
/// written, synced, renamed over `path`, and the directory synced so that the rename itself
/// survives a crash.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        // What File::create would give (tempfile's default is owner-only); the umask applies.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, "cannot write", e))?;
    // On failure `tmp` is dropped, which removes the temporary file.
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, "cannot write", e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(path, "cannot replace", e.error))?;
    sync_dir(dir)
}

/// Makes the entries of `dir` (files created, renamed or removed in it) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, "cannot sync directory", e))?;
    }
    // Elsewhere a directory cannot be opened as a file; its entries are synced with the files.
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes an output file the way every command of this crate does: a regular file (or a path
/// that does not exist yet) is replaced atomically; a symbolic link is followed and its target
/// replaced, the link kept; a device or a FIFO (`/dev/null`, `/dev/stdout`, a named pipe) is
/// written directly, in place. A directory is an error. Every failure, a full device included,
/// is an error naming the path.
pub fn write_output_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let target = follow_links(path)?;
    match std::fs::metadata(&target) {
        Ok(meta) if meta.is_dir() => Err(Error::io(
            path,
            "cannot write",
            std::io::Error::other("it is a directory"),
        )),
        Ok(meta) if !meta.is_file() => write_in_place(&target, bytes),
        _ => write_atomic(&target, bytes),
    }
}

/// Where `path` leads after its symbolic links, the last one possibly dangling (its target is
/// then created).
fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match std::fs::read_link(&current) {
            Ok(target) => current = parent(&current).join(target),
            Err(_) => return Ok(current),
        }
    }
    Err(Error::io(
        path,
        "cannot write",
        std::io::Error::other(format!("more than {MAX_SYMLINKS} symbolic links")),
    ))
}

/// Writes to an existing device or FIFO; there is nothing to rename over it or to sync.
fn write_in_place(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut out| {
            out.write_all(bytes)?;
            out.flush()
        })
        .map_err(|e| Error::io(path, "cannot write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_existing_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_directory_names_the_file() {
        let err = write_atomic(Path::new("/nonexistent-dir/x/model.json"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/x/model.json"));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.txt");
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink("real.txt", &link).unwrap();
        write_output_file(&link, b"one").unwrap();
        write_output_file(&link, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_output_file(dir.path(), b"x").unwrap_err().to_string();
        assert!(err.contains("cannot write"), "{err}");
    }
}
