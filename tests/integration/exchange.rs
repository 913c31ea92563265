//! Weights from elsewhere: float16/bfloat16 files and a wrapper module's name prefix (the errors
//! for anything else are in `load_errors`).

use crate::common::{drop_dtype, labelled, max_diff, rewrite_tensors, trained};
use candle_core::DType;
use lstm_sentiment::{Classifier, TrainConfig, WeightDtype};

const TEXTS: [&str; 4] = ["good film", "bad film", "", "a good but long and bad film"];

/// The model every test here converts: bidirectional, so that both directions' tensors travel.
fn tiny_model() -> Classifier {
    let examples = labelled(60, &["positive", "negative"], |i| {
        format!("{} film {}", ["good", "bad"][i % 2], i % 5)
    });
    let config = TrainConfig {
        embedding_dim: 6,
        hidden_size: 5,
        bidirectional: true,
        epochs: Some(3),
        lr: 0.02,
        ..TrainConfig::default()
    };
    trained(&examples, None, &config).0
}

fn probs(c: &Classifier) -> Vec<f32> {
    c.predict_batch(&TEXTS)
        .unwrap()
        .iter()
        .flat_map(|p| p.probs.iter().map(|(_, v)| *v).collect::<Vec<_>>())
        .collect()
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
    rewrite_tensors(tmp.path(), |k, v| {
        (format!("model.{k}"), v.to_dtype(DType::F16).unwrap())
    });
    let loaded = Classifier::load(tmp.path()).unwrap();
    assert!(max_diff(&probs(&model), &probs(&loaded)) < 2e-3);
}
