//! Editing a saved model directory's files, to break them or make them look foreign.

use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The tensors of `dir`'s model.safetensors, as candle reads them.
pub fn weights(dir: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap()
}

/// Rewrites `dir`'s model.safetensors with candle's writer (which keeps every tensor's dtype)
/// after `f` has changed its tensors.
pub fn edit_weights(dir: &Path, f: impl FnOnce(&mut HashMap<String, Tensor>)) {
    let mut tensors = weights(dir);
    f(&mut tensors);
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
}

/// Rewrites `dir`'s model.safetensors with every tensor renamed and/or retyped by `f`.
pub fn rewrite_tensors(dir: &Path, f: impl Fn(&str, &Tensor) -> (String, Tensor)) {
    edit_weights(dir, |tensors| {
        *tensors = tensors.iter().map(|(k, v)| f(k, v)).collect();
    });
}

/// Rewrites `dir`'s config.json after `f` has changed it.
pub fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut config = read_json(&path);
    f(&mut config);
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
}

/// Takes `dtype` out of `dir`'s config.json, as a hand-written or PyTorch-exported model has
/// none.
pub fn drop_dtype(dir: &Path) {
    edit_config(dir, |c| {
        c.as_object_mut().unwrap().remove("dtype");
    });
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Copies the directory `from` with everything in it to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every fixture directory under `dir` (one holding an expected.json), sorted by name.
pub fn fixture_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    dirs.sort();
    dirs
}
