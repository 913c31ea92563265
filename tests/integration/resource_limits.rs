//! Sizes that cannot fit are refused with an estimate before anything is allocated, and
//! evaluation output stays linear in the number of labels.

use crate::common::{
    args, failure, labelled, mem_total, run, skip, success, tiny_train_config, train_dir, trained,
    tsv,
};

/// Runs `line` in a fresh directory holding train.tsv and expects a refusal that names the
/// estimate and the machine's memory; skipped (and said so) where the machine's memory cannot
/// be read or would hold `bytes`.
fn expect_refused_for_memory(line: &str, bytes: u64) {
    match mem_total() {
        Some(total) if total < bytes => {}
        other => {
            let why =
                format!("the machine's memory ({other:?} bytes) is unknown or not below {bytes}");
            return skip("the refusal", &why);
        }
    }
    let dir = train_dir(40);
    let err = failure(&run(dir.path(), &args(line)), 1);
    assert!(
        err.contains("needs at least") && err.contains("more than this machine's"),
        "{err}"
    );
}

#[test]
fn training_that_cannot_fit_in_memory_is_refused_with_the_estimate() {
    // hidden 100000: 4 x 100000 x (100000 + 8) LSTM weights, 160 GB in float32 alone.
    expect_refused_for_memory(
        "train --train train.tsv --out m --hidden 100000 --embedding-dim 8 --no-checkpoint -q",
        160_000_000_000,
    );
}

#[test]
fn word2vec_that_cannot_fit_in_memory_is_refused_with_the_estimate() {
    // A few words of 10^9 dimensions each: 4 GB per word and table.
    expect_refused_for_memory(
        "word2vec -i train.tsv -o v.txt --dim 1000000000 --min-count 1 -q",
        40_000_000_000,
    );
}

#[test]
fn eval_of_a_model_with_hundreds_of_labels_prints_no_quadratic_matrix() {
    let labels = 300;
    let names: Vec<String> = (0..labels).map(|l| format!("l{l}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let data = labelled(2 * labels, &names, |i| {
        format!("word{} word{}", i % labels, i % 7)
    });
    let (classifier, _) = trained(&data, Some(&data), &tiny_train_config(1));
    let dir = tempfile::tempdir().unwrap();
    classifier.save(dir.path().join("m")).unwrap();
    std::fs::write(dir.path().join("eval.tsv"), tsv(&data)).unwrap();

    let table = success(&run(dir.path(), &args("eval -m m -d eval.tsv")));
    assert!(
        table.lines().all(|l| l.len() < 200),
        "a line grows with the labels"
    );
    assert!(table.contains("most frequent mistakes"), "{table}");

    let out = success(&run(dir.path(), &args("eval -m m -d eval.tsv --json")));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["confusion"], serde_json::json!([]));
    assert!(json["top_confusions"]
        .as_array()
        .is_some_and(|t| t.len() <= 20));
}
