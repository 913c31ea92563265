//! Weights from elsewhere: float16/bfloat16 files, a wrapper module's name prefix, and the
//! errors for anything else.

use candle_core::{DType, Device, Tensor};
use lstm_sentiment::{train, Classifier, Example, TrainConfig, WeightDtype};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;

const TEXTS: [&str; 4] = ["good film", "bad film", "", "a good but long and bad film"];

fn tiny_model() -> Classifier {
    let examples: Vec<Example> = (0..60)
        .map(|i| Example {
            text: format!("{} film {}", if i % 2 == 0 { "good" } else { "bad" }, i % 5),
            label: if i % 2 == 0 { "positive" } else { "negative" }.to_string(),
        })
        .collect();
    let config = TrainConfig {
        embedding_dim: 6,
        hidden_size: 5,
        bidirectional: true,
        epochs: 3,
        lr: 0.02,
        ..TrainConfig::default()
    };
    train(&examples, None, &config, &mut |_| ControlFlow::Continue(()))
        .unwrap()
        .0
}

fn probs(c: &Classifier) -> Vec<f32> {
    c.predict_batch(&TEXTS)
        .unwrap()
        .iter()
        .flat_map(|p| p.probs.iter().map(|(_, v)| *v).collect::<Vec<_>>())
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Rewrites model.safetensors with renamed and/or retyped tensors.
fn rewrite(dir: &Path, f: impl Fn(&str, &Tensor) -> (String, Tensor)) {
    let path = dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let out: HashMap<String, Tensor> = tensors.iter().map(|(k, v)| f(k, v)).collect();
    candle_core::safetensors::save(&out, &path).unwrap();
}

/// config.json without a `dtype`, as a hand-written or PyTorch-exported model has.
fn drop_dtype(dir: &Path) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("dtype");
    std::fs::write(&path, config.to_string()).unwrap();
}

#[test]
fn half_precision_models_predict_within_tolerance() {
    let model = tiny_model();
    let reference = probs(&model);
    let tmp = tempfile::tempdir().unwrap();
    for (dtype, tolerance, bytes) in [
        (WeightDtype::Float16, 2e-3, 2),
        (WeightDtype::Bfloat16, 2e-2, 2),
        (WeightDtype::Float32, 0.0, 4),
    ] {
        let dir = tmp.path().join(format!("{dtype:?}"));
        model.save_as(&dir, dtype).unwrap();
        let loaded = Classifier::load(&dir).unwrap();
        assert_eq!(loaded.config().dtype, Some(dtype));
        let d = max_diff(&reference, &probs(&loaded));
        assert!(d <= tolerance, "{dtype:?}: max difference {d}");
        let params = model.config().parameter_count() as u64;
        let size = std::fs::metadata(dir.join("model.safetensors"))
            .unwrap()
            .len();
        assert!(
            size >= params * bytes && size < params * bytes + 4096,
            "{dtype:?}: {size} bytes"
        );
        // Converting back to float32 keeps what float16 kept.
        loaded
            .save_as(tmp.path().join("back"), WeightDtype::Float32)
            .unwrap();
        let back = Classifier::load(tmp.path().join("back")).unwrap();
        assert_eq!(probs(&back), probs(&loaded));
    }
}

#[test]
fn pytorch_style_files_load_with_a_prefix_or_in_half_precision() {
    let model = tiny_model();
    let tmp = tempfile::tempdir().unwrap();
    model.save(tmp.path()).unwrap();
    drop_dtype(tmp.path());
    rewrite(tmp.path(), |k, v| {
        (format!("model.{k}"), v.to_dtype(DType::F16).unwrap())
    });
    let loaded = Classifier::load(tmp.path()).unwrap();
    assert!(max_diff(&probs(&model), &probs(&loaded)) < 2e-3);
}

#[test]
fn other_dtypes_and_names_are_refused_with_what_was_expected() {
    let model = tiny_model();
    let tmp = tempfile::tempdir().unwrap();
    model.save(tmp.path()).unwrap();
    drop_dtype(tmp.path());
    rewrite(tmp.path(), |k, v| {
        (k.to_string(), v.to_dtype(DType::F64).unwrap())
    });
    let err = Classifier::load(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("F64"),
        "{err}"
    );

    model.save(tmp.path()).unwrap();
    rewrite(tmp.path(), |k, v| {
        (k.replace("encoder.", "lstm."), v.clone())
    });
    let err = Classifier::load(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("missing tensor `encoder.weight_ih_l0`")
            && err.contains("expected tensors [embedding.weight, encoder.weight_ih_l0")
            && err.contains("lstm.weight_ih_l0"),
        "{err}"
    );

    // A model saved as float32 says so; a float16 file then contradicts its config.
    model.save(tmp.path()).unwrap();
    rewrite(tmp.path(), |k, v| {
        (k.to_string(), v.to_dtype(DType::F16).unwrap())
    });
    let err = Classifier::load(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("config.json says dtype"), "{err}");
}
