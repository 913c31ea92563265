//! `--model hf:owner/name[@rev]` against a Hub cache laid out by the test (no network).

use crate::common::{bin, failure, stderr, tiny_classifier};
use std::path::Path;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Writes a tiny model into `$HF_HOME/hub/models--acme--tiny/snapshots/COMMIT/`, with
/// refs/main pointing at it, as hf-hub and huggingface_hub lay out their cache.
fn lay_out_cache(home: &Path) -> std::path::PathBuf {
    lay_out_hub_cache(&home.join("hub"))
}

/// [`lay_out_cache`] in the Hub cache directory `cache` itself.
fn lay_out_hub_cache(cache: &Path) -> std::path::PathBuf {
    let model = tiny_classifier(&["good", "bad"]);
    let repo = cache.join("models--acme--tiny");
    let snapshot = repo.join("snapshots").join(COMMIT);
    model.save(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs").join("main"), COMMIT).unwrap();
    snapshot
}

fn predict(home: &Path, model: &str, extra: &[&str]) -> std::process::Output {
    bin()
        .env("HF_HOME", home)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUGGINGFACE_HUB_CACHE")
        .env("HF_HUB_OFFLINE", "1")
        .args(["predict", "--json", "--model", model])
        .args(extra)
        .arg("good day")
        .output()
        .unwrap()
}

#[test]
fn hub_model_resolves_from_the_offline_cache() {
    let home = tempfile::tempdir().unwrap();
    lay_out_cache(home.path());
    for spec in [
        "hf:acme/tiny",
        "hf:acme/tiny@main",
        &format!("hf:acme/tiny@{COMMIT}"),
    ] {
        let out = predict(home.path(), spec, &[]);
        assert!(out.status.success(), "{spec}: {}", stderr(&out));
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(line["probs"]["positive"].is_number(), "{line}");
    }
}

#[test]
fn a_file_missing_offline_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let snapshot = lay_out_cache(home.path());
    std::fs::remove_file(snapshot.join("tokenizer.json")).unwrap();
    let out = predict(home.path(), "hf:acme/tiny", &["--offline"]);
    let err = failure(&out, 1);
    assert!(
        err.contains("tokenizer.json") && err.contains("offline") && err.contains("acme/tiny"),
        "{err}"
    );

    let out = predict(home.path(), "hf:acme/absent", &[]);
    assert!(failure(&out, 1).contains("acme/absent"));
}

/// A model outside the cache (`$HF_HOME/evil`), which no spec may reach.
fn lay_out_evil_model(home: &Path) -> std::path::PathBuf {
    let evil = home.join("evil");
    tiny_classifier(&["evil", "twin"]).save(&evil).unwrap();
    evil
}

fn assert_refused(out: &std::process::Output, needle: &str) {
    let err = failure(out, 1);
    assert!(err.contains(needle), "{err}");
}

#[test]
fn a_revision_cannot_lead_out_of_the_cache() {
    let home = tempfile::tempdir().unwrap();
    lay_out_cache(home.path());
    lay_out_evil_model(home.path());
    // The directories `..` climbs through exist, as they do once a repo has been fetched.
    std::fs::create_dir_all(home.path().join("hub/models--a--b/snapshots")).unwrap();
    let out = predict(home.path(), "hf:a/b@../../../evil", &["--offline"]);
    assert_refused(&out, "the revision `../../../evil` holds `..`");
    let evil = home.path().join("evil");
    let absolute = format!("hf:a/b@{}", evil.display());
    assert_refused(&predict(home.path(), &absolute, &[]), "is not a Hub model");
    assert_refused(
        &predict(home.path(), "hf:../evil", &[]),
        "is not a Hub model",
    );
}

#[test]
fn a_ref_must_name_a_commit() {
    let home = tempfile::tempdir().unwrap();
    lay_out_cache(home.path());
    lay_out_evil_model(home.path());
    let refs = home.path().join("hub/models--acme--tiny/refs");
    std::fs::write(refs.join("main"), "../../../evil").unwrap();
    let out = predict(home.path(), "hf:acme/tiny", &[]);
    assert_refused(&out, "not a commit hash");
}

#[cfg(unix)]
#[test]
fn a_snapshot_linking_out_of_the_cache_is_refused() {
    let home = tempfile::tempdir().unwrap();
    lay_out_cache(home.path());
    let evil = lay_out_evil_model(home.path());
    let commit = "89abcdef0123456789abcdef0123456789abcdef";
    let repo = home.path().join("hub/models--acme--tiny");
    let snapshot = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::os::unix::fs::symlink(evil.join(file), snapshot.join(file)).unwrap();
    }
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    let out = predict(home.path(), "hf:acme/tiny", &[]);
    assert_refused(&out, "outside the Hub cache");
}

#[test]
fn hf_hub_cache_names_the_cache_as_for_the_hubs_own_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("elsewhere");
    lay_out_hub_cache(&cache);
    let home = tmp.path().join("home-without-a-cache");
    let predict_with = |vars: &[(&str, &Path)]| {
        let mut cmd = bin();
        cmd.env("HF_HOME", &home)
            .env_remove("HF_HUB_CACHE")
            .env_remove("HUGGINGFACE_HUB_CACHE");
        for (name, value) in vars {
            cmd.env(name, value);
        }
        let out = cmd
            .args([
                "predict",
                "--offline",
                "--model",
                "hf:acme/tiny",
                "good day",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{vars:?}: {}", stderr(&out));
    };
    predict_with(&[("HF_HUB_CACHE", &cache)]);
    predict_with(&[("HUGGINGFACE_HUB_CACHE", &cache)]);
    // HF_HUB_CACHE wins over the older name.
    predict_with(&[("HF_HUB_CACHE", &cache), ("HUGGINGFACE_HUB_CACHE", &home)]);
}
