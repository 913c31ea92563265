//! Output files: a regular file is replaced atomically, a symbolic link's target is replaced
//! (the link kept), devices and FIFOs are written in place, `-` is standard output, and a write
//! that fails is an error with exit status 1, never "wrote ...".

use crate::common::{args, failure, run, skip, stderr};
use std::path::Path;
use std::process::Output;

/// `export-embeddings` of the built-in model to `out`, run in `dir`.
fn export(dir: &Path, out: &str) -> Output {
    run(dir, &["export-embeddings", "-o", out, "--format", "text"])
}

/// A small corpus and `word2vec` run in `dir`, writing to `out`.
fn word2vec(dir: &Path, out: &str) -> Output {
    std::fs::write(
        dir.join("corpus.txt"),
        "the cat sat\nthe dog sat\n".repeat(20),
    )
    .unwrap();
    let mut line = args("word2vec -i corpus.txt -o");
    line.push(out);
    line.extend(args(
        "--format text --dim 4 --min-count 1 --epochs 1 --threads 1 -q",
    ));
    run(dir, &line)
}

fn assert_vector_file(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    let header = text.lines().next().unwrap_or_default();
    let fields: Vec<&str> = header.split(' ').collect();
    assert!(
        fields.len() == 2 && fields.iter().all(|f| f.parse::<usize>().is_ok()),
        "{what}: expected a `COUNT DIM` header, found {header:?}"
    );
}

#[test]
fn dash_means_standard_output() {
    let tmp = tempfile::tempdir().unwrap();
    for out in [export(tmp.path(), "-"), word2vec(tmp.path(), "-")] {
        assert!(out.status.success(), "{}", stderr(&out));
        assert_vector_file(&out.stdout, "stdout");
        assert!(
            !tmp.path().join("-").exists(),
            "a file named `-` was created"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_is_followed_and_its_target_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("store")).unwrap();
    std::fs::write(dir.join("store/vectors.txt"), "old").unwrap();
    std::os::unix::fs::symlink("store/vectors.txt", dir.join("link.txt")).unwrap();
    // A dangling link gets its target created.
    std::os::unix::fs::symlink("store/new.txt", dir.join("dangling.txt")).unwrap();
    for (out, target) in [
        (export(dir, "link.txt"), "store/vectors.txt"),
        (word2vec(dir, "dangling.txt"), "store/new.txt"),
    ] {
        assert!(out.status.success(), "{}", stderr(&out));
        assert_vector_file(&std::fs::read(dir.join(target)).unwrap(), target);
    }
    for link in ["link.txt", "dangling.txt"] {
        let meta = std::fs::symlink_metadata(dir.join(link)).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "{link} was replaced by a file"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_is_written_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // The reader opens the FIFO as the writer does; each waits for the other.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = export(tmp.path(), "pipe");
    assert!(out.status.success(), "{}", stderr(&out));
    // Checked before joining: a reader of a FIFO that was replaced would wait forever.
    let meta = std::fs::symlink_metadata(&fifo).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(meta.file_type().is_fifo(), "the FIFO was replaced");
    assert_vector_file(&reader.join().unwrap(), "the FIFO");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_device_is_an_error_not_success() {
    use std::os::unix::fs::FileTypeExt;
    let full = Path::new("/dev/full");
    let is_device =
        |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device());
    if !is_device(full) {
        return skip(
            "a write to a full device",
            "/dev/full is not a character device here",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let err = failure(&export(tmp.path(), "/dev/full"), 1);
    assert!(err.contains("/dev/full") && !err.contains("wrote"), "{err}");
    assert!(is_device(full), "/dev/full was replaced");
}

#[test]
fn a_directory_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("out")).unwrap();
    let err = failure(&export(tmp.path(), "out"), 1);
    assert!(err.contains("out") && !err.contains("wrote"), "{err}");
}

#[test]
fn writers_in_one_process_each_leave_a_whole_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("v.bin");
    std::thread::scope(|s| {
        for i in 0..8u8 {
            let path = &path;
            s.spawn(move || lstm_sentiment::write_output_file(path, &vec![i; 1 << 20]).unwrap());
        }
    });
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 1 << 20);
    assert!(
        bytes.iter().all(|&b| b == bytes[0]),
        "the writes were mixed"
    );
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "a temporary file was left behind");
}
