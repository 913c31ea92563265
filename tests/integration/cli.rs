//! End-to-end tests that drive the real binary in fresh temporary directories.

use crate::common::{
    args, bf16_or_skip, bin, dir_with, ex, failure, run, stderr, stdout, success, tsv,
};
use lstm_sentiment::Example;
use std::process::Stdio;

/// A small separable task, labelled 0 and 1: the label follows the sentiment word, fillers are
/// noise. Every sixth example is in the dev set.
fn train_and_dev() -> tempfile::TempDir {
    let pos = ["good", "great", "lovely", "superb"];
    let neg = ["bad", "awful", "boring", "poor"];
    let filler = [
        "the", "film", "food", "was", "really", "quite", "service", "plot",
    ];
    let examples: Vec<Example> = (0..240)
        .map(|i| {
            let positive = i % 2 == 0;
            let word = if positive { pos } else { neg }[i / 2 % 4];
            let text = format!(
                "{} {} {} {}",
                filler[i % 8],
                filler[(i / 3) % 8],
                word,
                filler[(i / 5) % 8]
            );
            ex(if positive { "1" } else { "0" }, &text)
        })
        .collect();
    let (train, dev): (Vec<_>, Vec<_>) = examples.chunks(6).map(|c| c.split_at(5)).unzip();
    dir_with(&[
        ("train.tsv", &tsv(&train.concat())),
        ("dev.tsv", &tsv(&dev.concat())),
    ])
}

#[test]
fn train_predict_eval_embed_info_end_to_end() {
    let tmp = train_and_dev();
    let dir = tmp.path();
    let out = run(
        dir,
        &args(
            "train --train train.tsv --dev dev.tsv --out model --label-map 0=negative,1=positive \
             --embedding-dim 16 --hidden 16 --epochs 8 --lr 0.01 --dropout 0 --seed 3 -q",
        ),
    );
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        assert!(dir.join("model").join(f).is_file(), "missing {f}");
    }
    assert!(stdout(&out).contains("kept epoch"), "{}", stdout(&out));

    let line = [
        &args("predict --model model --json")[..],
        &["the food was great", "the plot was awful"],
    ];
    let lines: Vec<serde_json::Value> = success(&run(dir, &line.concat()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["label"], "positive");
    assert_eq!(lines[1]["label"], "negative");
    assert_eq!(lines[0]["text"], "the food was great");
    let probs = lines[0]["probs"].as_object().unwrap();
    let sum: f64 = probs.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-5);
    assert_eq!(lines[0]["score"], probs["positive"]);

    // Labels as written in the data file ("0"/"1") are read through the saved aliases.
    let out = success(&run(dir, &args("eval --model model --data dev.tsv --json")));
    let eval: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(eval["n"], 40);
    assert!(eval["accuracy"].as_f64().unwrap() >= 0.9, "{eval}");
    assert!(eval["macro_f1"].as_f64().is_some());

    let out = run(dir, &args("eval --model model --data dev.tsv"));
    assert!(stdout(&out).contains("accuracy"), "{}", stdout(&out));

    let mut child = bin()
        .current_dir(dir)
        .args(["embed", "--model", "model"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"good film\n\nbad food\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let vectors: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        vectors.len(),
        3,
        "one line per input line, empty ones included"
    );
    // Both directions' states, max-pooled: twice the hidden size.
    assert_eq!(vectors[0]["vector"].as_array().unwrap().len(), 32);

    let out = run(dir, &["info", "--model", "model"]);
    assert!(out.status.success());
    let info = stdout(&out);
    assert!(
        info.contains("lstm") && info.contains("negative, positive"),
        "{info}"
    );
}

#[test]
fn predict_reads_an_input_file_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let texts = "I loved it\r\nterrible waste of time\r\n\r\nsuperb\r\n";
    std::fs::write(tmp.path().join("in.txt"), texts).unwrap();
    let out = run(tmp.path(), &["predict", "--input", "in.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[1].ends_with("\tterrible waste of time"), "{lines:?}");
}

#[test]
fn builtin_model_classifies_clear_sentences_from_an_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        tmp.path(),
        &[
            "predict",
            "A wonderful film with superb acting. I loved it.",
            "Terrible, boring and far too long. A waste of money.",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let labels: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(labels, ["positive", "negative"], "{text}");
}

#[test]
fn usage_errors_exit_2_and_runtime_errors_exit_1_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), &args("train --out m"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing --train is a usage error"
    );

    let err = failure(&run(tmp.path(), &args("train --train nope.tsv --out m")), 1);
    assert!(
        err.starts_with("lstm-sentiment: ") && err.contains("nope.tsv"),
        "{err}"
    );

    std::fs::write(tmp.path().join("bad.tsv"), "1\tfine\nno tab here\n").unwrap();
    let err = failure(&run(tmp.path(), &args("train --train bad.tsv --out m")), 1);
    assert!(err.contains("bad.tsv:2"), "{err}");

    let err = failure(&run(tmp.path(), &args("predict --model missing-dir hi")), 1);
    assert!(err.contains("missing-dir"), "{err}");
}

#[test]
fn every_subcommand_has_help() {
    for cmd in ["train", "predict", "eval", "embed", "info"] {
        let out = bin().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd} --help");
        assert!(stdout(&out).contains("Usage"), "{cmd}");
    }
}

#[test]
fn train_starts_from_a_vector_file_and_can_freeze_it() {
    let tmp = train_and_dev();
    let dir = tmp.path();
    // word2vec text format: header, then `word v1 .. v8`.
    let mut vectors = String::from("3 8\n");
    for (w, base) in [("great", 0.5f32), ("awful", -0.5), ("film", 0.25)] {
        let row: Vec<String> = (0..8)
            .map(|i| format!("{}", base + i as f32 * 0.01))
            .collect();
        vectors.push_str(&format!("{w} {}\n", row.join(" ")));
    }
    std::fs::write(dir.join("vectors.txt"), vectors).unwrap();
    let out = run(
        dir,
        &args(
            "train --train train.tsv --dev dev.tsv --out model --embedding-dim 8 --hidden 8 \
             --epochs 2 --vectors vectors.txt --freeze-embeddings",
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("word vectors cover 3 of"),
        "{}",
        stderr(&out)
    );
    let model = lstm_sentiment::Classifier::load(dir.join("model")).unwrap();
    let id = model.tokenizer().token_to_id("great").unwrap() as usize;
    let table = model.weights()["embedding.weight"]
        .to_vec2::<f32>()
        .unwrap();
    let expected: Vec<f32> = (0..8).map(|i| 0.5 + i as f32 * 0.01).collect();
    assert_eq!(table[id], expected, "frozen rows keep the file's vectors");

    let out = run(
        dir,
        &args("train --train train.tsv --out m2 --embedding-dim 16 --vectors vectors.txt"),
    );
    assert!(failure(&out, 1).contains("dimension 8"), "{}", stderr(&out));
}

#[test]
fn bf16_prediction_answers_or_names_what_the_cpu_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let text = "A wonderful, moving film. I loved every minute of it.";
    let out = run(dir.path(), &["--bf16", "predict", "--json", text]);
    if bf16_or_skip("bfloat16 predictions, the refusal checked instead") {
        let line: serde_json::Value = serde_json::from_str(&success(&out)).unwrap();
        assert_eq!(line["label"], "positive");
    } else {
        assert!(failure(&out, 1).contains("AVX512-BF16"), "{}", stderr(&out));
    }
}

#[test]
fn info_shows_the_training_data_by_domain_when_the_config_records_it() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/default");
    for f in ["tokenizer.json", "model.safetensors"] {
        std::fs::copy(assets.join(f), model.join(f)).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(assets.join("config.json")).unwrap())
            .unwrap();
    config["training"]["domains"] = serde_json::json!([
        {"name": "films", "train_examples": 7486, "dev_examples": 300,
         "dev_accuracy": 0.8533, "dev_macro_f1": 0.8529},
        {"name": "word-list", "train_examples": 5830, "dev_examples": 0,
         "dev_accuracy": null, "dev_macro_f1": null}
    ]);
    std::fs::write(model.join("config.json"), config.to_string()).unwrap();
    let info = success(&run(tmp.path(), &["info", "--model", "model"]));
    let fields = |name: &str| -> Vec<String> {
        let line = info.lines().find(|l| l.contains(name)).unwrap_or("");
        line.split_whitespace().map(String::from).collect()
    };
    assert!(info.contains("training data:"), "{info}");
    assert_eq!(
        fields("films"),
        ["films", "7486", "300", "0.8533", "0.8529"],
        "{info}"
    );
    assert_eq!(
        fields("word-list"),
        ["word-list", "5830", "0", "-", "-"],
        "{info}"
    );
}
