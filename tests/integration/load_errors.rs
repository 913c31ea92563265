//! A model that does not load says which file, tensor or setting is wrong and what was
//! expected, and names the model's directory: one table row per way to break a model directory,
//! files written by other tools (candle's writer, other dtypes and names), and one regression
//! test per bug found by fuzzing the loader (see scripts/dev/fuzz.sh).

use crate::common::{
    assert_mentions, chain, copy_dir, drop_dtype, edit_config, edit_weights, error_text, labelled,
    rewrite_tensors, strings, tiny_train_config, trained, weights,
};
use candle_core::{DType, Device, Tensor};
use lstm_sentiment::model::Weights;
use lstm_sentiment::model_dir::{self, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use lstm_sentiment::tokenizer::TextTokenizer;
use lstm_sentiment::{Classifier, ModelConfig, TrainConfig};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// The model every test here breaks: an LSTM of embedding 8 and hidden size 6 for the labels
/// `negative` and `positive`, trained once.
fn model() -> &'static Classifier {
    static MODEL: OnceLock<Classifier> = OnceLock::new();
    MODEL.get_or_init(|| {
        let examples = labelled(40, &["positive", "negative"], |i| {
            format!("{} film {}", ["good", "bad"][i % 2], i % 5)
        });
        let config = TrainConfig {
            embedding_dim: 8,
            hidden_size: 6,
            ..tiny_train_config(1)
        };
        trained(&examples, None, &config).0
    })
}

// ---------------------------------------------------------------------------------------------
// Every way to break a model directory
// ---------------------------------------------------------------------------------------------

/// Sets one value of a float tensor.
fn poison(tensors: &mut HashMap<String, Tensor>, name: &str, value: f32) {
    let t = &tensors[name];
    let mut values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values[1] = value;
    let poisoned = Tensor::from_vec(values, t.dims(), &Device::Cpu).unwrap();
    tensors.insert(name.to_string(), poisoned);
}

type Mutation = Box<dyn Fn(&Path)>;

#[test]
fn broken_model_directories_name_the_file_tensor_and_shapes() {
    let base_dir = tempfile::tempdir().unwrap();
    let base = base_dir.path().join("model");
    let model = model();
    model.save(&base).unwrap();
    let v = model.config().vocab_size;
    let tensor_names = weights(&base).len();
    assert_eq!(tensor_names, 7);

    let cases: Vec<(&str, Mutation, Vec<String>)> = vec![
        (
            "config.json missing",
            Box::new(|d: &Path| std::fs::remove_file(d.join("config.json")).unwrap()),
            strings(&["config.json: cannot read", "No such file"]),
        ),
        (
            "tokenizer.json missing",
            Box::new(|d: &Path| std::fs::remove_file(d.join("tokenizer.json")).unwrap()),
            strings(&["tokenizer.json: cannot read", "No such file"]),
        ),
        (
            "model.safetensors missing",
            Box::new(|d: &Path| std::fs::remove_file(d.join(WEIGHTS_FILE)).unwrap()),
            strings(&["model.safetensors: cannot read", "No such file"]),
        ),
        (
            "truncated safetensors",
            Box::new(|d: &Path| {
                let bytes = std::fs::read(d.join(WEIGHTS_FILE)).unwrap();
                std::fs::write(d.join(WEIGHTS_FILE), &bytes[..bytes.len() / 2]).unwrap();
            }),
            strings(&["model.safetensors: not a valid safetensors file"]),
        ),
        (
            "safetensors cut inside its header",
            Box::new(|d: &Path| {
                let bytes = std::fs::read(d.join(WEIGHTS_FILE)).unwrap();
                std::fs::write(d.join(WEIGHTS_FILE), &bytes[..20]).unwrap();
            }),
            strings(&["model.safetensors: not a valid safetensors file"]),
        ),
        (
            "corrupt safetensors",
            Box::new(|d: &Path| std::fs::write(d.join(WEIGHTS_FILE), b"\x10\0\0\0\0\0\0\0{not json!!!!!!}").unwrap()),
            strings(&["model.safetensors: not a valid safetensors file"]),
        ),
        (
            "a tensor with the wrong name",
            Box::new(|d: &Path| {
                edit_weights(d, |t| {
                    let head = t.remove("head.weight").unwrap();
                    t.insert("head.weights".into(), head);
                })
            }),
            strings(&[
                "model.safetensors: missing tensor `head.weight` (shape [2, 6])",
                "found [",
                "head.weights",
            ]),
        ),
        (
            "an unexpected extra tensor",
            Box::new(|d: &Path| {
                edit_weights(d, |t| {
                    let extra = t["head.bias"].clone();
                    t.insert("head.extra".into(), extra);
                })
            }),
            strings(&["model.safetensors: unexpected tensor `head.extra`"]),
        ),
        (
            "a tensor with the wrong shape",
            Box::new(|d: &Path| {
                edit_weights(d, |t| {
                    let bias = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
                    t.insert("head.bias".into(), bias);
                })
            }),
            strings(&[
                "model.safetensors: tensor `head.bias` has shape [3], expected [2] from config.json",
            ]),
        ),
        (
            "a tensor with the wrong dtype",
            Box::new(|d: &Path| {
                edit_weights(d, |t| {
                    let bias = t["head.bias"].to_dtype(DType::F64).unwrap();
                    t.insert("head.bias".into(), bias);
                })
            }),
            strings(&[
                "model.safetensors: tensor `head.bias` has dtype F64, expected float32, float16 or bfloat16",
            ]),
        ),
        (
            "a tensor of a dtype candle cannot hold",
            Box::new(|d: &Path| {
                let bytes = std::fs::read(d.join(WEIGHTS_FILE)).unwrap();
                let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
                let bools = vec![1u8, 0];
                let mut views: Vec<(String, safetensors::tensor::TensorView)> = file
                    .tensors()
                    .into_iter()
                    .filter(|(name, _)| name != "head.bias")
                    .collect();
                let bias =
                    safetensors::tensor::TensorView::new(safetensors::Dtype::BOOL, vec![2], &bools)
                        .unwrap();
                views.push(("head.bias".to_string(), bias));
                let out = safetensors::tensor::serialize(views, None).unwrap();
                std::fs::write(d.join(WEIGHTS_FILE), out).unwrap();
            }),
            strings(&["model.safetensors: tensor `head.bias` has dtype BOOL, expected float32"]),
        ),
        (
            "tensors of another dtype than config.json says",
            Box::new(|d: &Path| edit_config(d, |c| c["dtype"] = "float16".into())),
            strings(&["tensor `", "is Float32 but config.json says dtype Float16"]),
        ),
        (
            "config hidden_size disagreeing with the tensors",
            Box::new(|d: &Path| edit_config(d, |c| c["hidden_size"] = 7.into())),
            strings(&[
                "model.safetensors: tensor `encoder.weight_ih_l0` has shape [24, 8], expected [28, 8] from config.json",
            ]),
        ),
        (
            "config labels disagreeing with the head",
            Box::new(|d: &Path| {
                edit_config(d, |c| c["labels"] = serde_json::json!(["a", "b", "c"]))
            }),
            strings(&["tensor `head.weight` has shape [2, 6], expected [3, 6] from config.json"]),
        ),
        (
            "config vocab_size disagreeing with the tokenizer",
            Box::new(move |d: &Path| edit_config(d, |c| c["vocab_size"] = (v + 1).into())),
            vec![
                "tokenizer.json".to_string(),
                format!("the tokenizer has {v} entries but config.json says vocab_size {}", v + 1),
            ],
        ),
        (
            "a newer format version",
            Box::new(|d: &Path| edit_config(d, |c| c["format_version"] = 4.into())),
            strings(&["config.json: format version 4 is newer than this build reads (3)"]),
        ),
        (
            "config.json that is not JSON",
            Box::new(|d: &Path| std::fs::write(d.join("config.json"), "{\"cell\": ").unwrap()),
            strings(&["config.json: not valid JSON"]),
        ),
        (
            "config.json missing a field",
            Box::new(|d: &Path| {
                edit_config(d, |c| {
                    c.as_object_mut().unwrap().remove("hidden_size");
                })
            }),
            strings(&["config.json: not a model config", "hidden_size"]),
        ),
        (
            "config.json with absurd sizes",
            Box::new(|d: &Path| edit_config(d, |c| c["hidden_size"] = (1u64 << 40).into())),
            strings(&["config.json:", "hidden_size must be at most"]),
        ),
        (
            "a NaN weight",
            Box::new(|d: &Path| edit_weights(d, |t| poison(t, "encoder.weight_hh_l0", f32::NAN))),
            strings(&[
                "model.safetensors: tensor `encoder.weight_hh_l0` holds a non-finite value (NaN) at flat index 1",
            ]),
        ),
        (
            "an infinite weight",
            Box::new(|d: &Path| edit_weights(d, |t| poison(t, "embedding.weight", f32::INFINITY))),
            strings(&["tensor `embedding.weight` holds a non-finite value (inf) at flat index 1"]),
        ),
        (
            "a tokenizer.json that is not JSON",
            Box::new(|d: &Path| std::fs::write(d.join("tokenizer.json"), "<html>").unwrap()),
            strings(&["tokenizer.json: not a tokenizer.json"]),
        ),
        (
            "a tokenizer.json of another kind",
            Box::new(|d: &Path| {
                let path = d.join("tokenizer.json");
                let json = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, json.replace("\"[UNK]\"", "\"<unk>\"")).unwrap();
            }),
            strings(&["tokenizer.json: not a tokenizer.json", "[UNK]"]),
        ),
    ];
    for (case, mutate, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("model");
        copy_dir(&base, &copy);
        mutate(&copy);
        let err = Classifier::load(&copy).unwrap_err();
        let message = chain(&err);
        assert_mentions(case, &message, &want);
        // Every message names the model's directory.
        assert!(
            message.contains(&copy.display().to_string()),
            "{case}: {message}"
        );
    }
}

#[test]
fn a_model_path_that_is_not_a_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.safetensors");
    std::fs::write(&file, b"x").unwrap();
    for path in [file, dir.path().join("missing")] {
        let message = chain(&Classifier::load(&path).unwrap_err());
        assert!(
            message.contains(&path.display().to_string())
                && message.contains("not a model directory"),
            "{message}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tensors that are missing, extra, misshapen, of another dtype or name, or not finite, written
// by this crate's writer and by candle's, as another tool would
// ---------------------------------------------------------------------------------------------

/// [`model`] saved in a fresh directory, with its config and weights.
fn saved_model() -> (tempfile::TempDir, ModelConfig, Weights) {
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    Classifier::load(dir.path()).expect("the unmodified model loads");
    (dir, model.config().clone(), model.weights().clone())
}

fn write_weights(dir: &Path, weights: &Weights) {
    let bytes = model_dir::weights_to_bytes(weights).unwrap();
    std::fs::write(dir.join(WEIGHTS_FILE), bytes).unwrap();
}

#[test]
fn missing_tensor_is_named_with_its_expected_shape() {
    let (dir, _, mut weights) = saved_model();
    weights.remove("encoder.bias_hh_l0");
    write_weights(dir.path(), &weights);
    let msg = error_text(Classifier::load(dir.path()));
    assert_mentions(
        "a missing tensor",
        &msg,
        &[WEIGHTS_FILE, "encoder.bias_hh_l0", "[24]"],
    );
}

#[test]
fn wrong_shape_names_tensor_and_both_shapes() {
    let (dir, _, weights) = saved_model();
    // Written with candle's own safetensors writer, as a tool outside this crate would.
    let mut tensors: HashMap<String, Tensor> = weights.into_iter().collect();
    tensors.insert(
        "head.weight".into(),
        Tensor::zeros((3, 6), DType::F32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, dir.path().join(WEIGHTS_FILE)).unwrap();
    let msg = error_text(Classifier::load(dir.path()));
    assert_mentions(
        "a wrong shape",
        &msg,
        &[WEIGHTS_FILE, "head.weight", "[3, 6]", "[2, 6]"],
    );
}

#[test]
fn unexpected_dtype_and_extra_tensors_and_non_finite_values_are_refused() {
    let (dir, _, weights) = saved_model();

    let mut extra = weights.clone();
    extra.insert(
        "encoder.weight_ih_l1".into(),
        Tensor::zeros((24, 6), DType::F32, &Device::Cpu).unwrap(),
    );
    write_weights(dir.path(), &extra);
    let msg = error_text(Classifier::load(dir.path()));
    assert_mentions(
        "an extra tensor",
        &msg,
        &[WEIGHTS_FILE, "encoder.weight_ih_l1"],
    );

    // float64 is none of the accepted storage types (f32, f16, bf16). Written with candle's
    // writer, which keeps each tensor's dtype as it is.
    let mut wrong_dtype: HashMap<String, Tensor> = weights.clone().into_iter().collect();
    let bias = wrong_dtype["head.bias"].to_dtype(DType::F64).unwrap();
    wrong_dtype.insert("head.bias".into(), bias);
    candle_core::safetensors::save(&wrong_dtype, dir.path().join(WEIGHTS_FILE)).unwrap();
    let msg = error_text(Classifier::load(dir.path()));
    assert_mentions("float64", &msg, &[WEIGHTS_FILE, "head.bias", "F64"]);

    let mut nan = weights.clone();
    nan.insert(
        "head.bias".into(),
        Tensor::new(&[0.5f32, f32::NAN], &Device::Cpu).unwrap(),
    );
    write_weights(dir.path(), &nan);
    let msg = error_text(Classifier::load(dir.path()));
    assert_mentions("a NaN", &msg, &[WEIGHTS_FILE, "head.bias", "NaN"]);

    std::fs::write(dir.path().join(WEIGHTS_FILE), b"not safetensors at all").unwrap();
    let msg = error_text(Classifier::load(dir.path()));
    assert_mentions("not safetensors", &msg, &[WEIGHTS_FILE]);
}

#[test]
fn vocab_size_mismatch_names_both_sizes_and_the_files() {
    let (dir, config, _) = saved_model();
    let wrong = config.vocab_size + 3;
    edit_config(dir.path(), |json| {
        json["vocab_size"] = serde_json::json!(wrong)
    });
    let msg = error_text(Classifier::load(dir.path()));
    assert_mentions(
        "vocab_size",
        &msg,
        &[
            CONFIG_FILE,
            "vocab_size",
            &config.vocab_size.to_string(),
            &wrong.to_string(),
        ],
    );
}

#[test]
fn missing_or_broken_files_name_the_path() {
    let missing = std::env::temp_dir().join("lstm-sentiment-test-no-such-model-dir-8b1e");
    let msg = error_text(Classifier::load(&missing));
    assert_mentions(
        "a missing directory",
        &msg,
        &[missing.display().to_string()],
    );

    for file in [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE] {
        let (dir, _, _) = saved_model();
        let path = dir.path().join(file);
        std::fs::remove_file(&path).unwrap();
        let msg = error_text(Classifier::load(dir.path()));
        assert_mentions(file, &msg, &[path.display().to_string()]);
    }

    let (dir, _, _) = saved_model();
    let path = dir.path().join(CONFIG_FILE);
    std::fs::write(&path, "{ this is not json").unwrap();
    let msg = error_text(Classifier::load(dir.path()));
    assert_mentions("config.json not JSON", &msg, &[path.display().to_string()]);

    // A config whose shapes disagree with the weights: the weights file is blamed, with the
    // tensor and both shapes.
    let (dir, config, _) = saved_model();
    let mut bigger = config.clone();
    bigger.hidden_size = 7;
    std::fs::write(dir.path().join(CONFIG_FILE), bigger.to_json()).unwrap();
    let msg = error_text(Classifier::load(dir.path()));
    assert_mentions("hidden_size", &msg, &[WEIGHTS_FILE, "[28, 8]", "[24, 8]"]);
}

#[test]
fn other_dtypes_and_names_are_refused_with_what_was_expected() {
    let model = model();
    let tmp = tempfile::tempdir().unwrap();
    model.save(tmp.path()).unwrap();
    drop_dtype(tmp.path());
    rewrite_tensors(tmp.path(), |k, v| {
        (k.to_string(), v.to_dtype(DType::F64).unwrap())
    });
    let err = Classifier::load(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("F64"),
        "{err}"
    );

    model.save(tmp.path()).unwrap();
    rewrite_tensors(tmp.path(), |k, v| {
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
    rewrite_tensors(tmp.path(), |k, v| {
        (k.to_string(), v.to_dtype(DType::F16).unwrap())
    });
    let err = Classifier::load(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("config.json says dtype"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Regressions found by fuzzing (scripts/dev/fuzz.sh)
// ---------------------------------------------------------------------------------------------

/// The seed model's tokenizer.json (fuzz/seeds/model), a valid one to break.
const SEED_TOKENIZER: &str = include_str!("../../fuzz/seeds/model/tokenizer.json");

#[test]
fn fuzz_tokenizer_json_with_a_syntax_error_in_decoder_is_an_error_not_a_panic() {
    // tokenizers 0.23 panics ("Helper") on a syntax error inside "decoder" when parsing text.
    let broken = SEED_TOKENIZER.replace("\"decoder\": null", "\"decoder\":E null");
    assert_ne!(broken, SEED_TOKENIZER);
    let path = Path::new("m/tokenizer.json");
    let err = TextTokenizer::from_json(&broken, path).unwrap_err();
    assert_mentions(
        "decoder",
        &err.to_string(),
        &strings(&["m/tokenizer.json: not a tokenizer.json", "line 34"]),
    );
    assert!(TextTokenizer::from_json(SEED_TOKENIZER, path).is_ok());
}

#[test]
fn tokenizer_ids_outside_the_embedding_table_are_refused_at_load() {
    // Found by review while writing the fuzz targets: an id past the table failed at predict
    // time with candle's "index-select invalid index", naming no file.
    let path = Path::new("m/tokenizer.json");
    let film = SEED_TOKENIZER
        .lines()
        .find(|l| l.trim_start().starts_with("\"film\""))
        .unwrap();
    let cases = [
        (
            "99",
            "ids must run from 0 to 6 without gaps, but no entry has id 3 and `film` has id 99",
        ),
        ("4", "`film` and `good` share the id 4"),
    ];
    for (id, want) in cases {
        let edited = SEED_TOKENIZER.replace(film, &format!("      \"film\": {id},"));
        let err = TextTokenizer::from_json(&edited, path).unwrap_err();
        assert_mentions(
            id,
            &err.to_string(),
            &strings(&["m/tokenizer.json: not a tokenizer.json", want]),
        );
    }
}
