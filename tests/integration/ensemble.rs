//! Several models answering as one: the mean of their probabilities, matched by label name, in
//! the library (`Ensemble`) and through `predict` and `eval` with `--model` given more than once.

use crate::common::{
    assert_close, assert_mentions, error_text, failure, labelled, run, stdout, success,
    tiny_train_config, trained, tsv,
};
use lstm_sentiment::{Classifier, Ensemble, Example};
use std::collections::BTreeMap;

const TEXTS: [&str; 4] = ["good day", "bad day", "good bad day", "an unseen word"];

fn examples(labels: &[&str]) -> Vec<Example> {
    labelled(40, labels, |i| {
        format!("{} day", ["good", "bad", "fine", "awful"][i % 4])
    })
}

fn model(labels: &[&str], seed: u64) -> Classifier {
    trained(&examples(labels), None, &tiny_train_config(seed)).0
}

/// Each text's probability of `label` from `classifier`.
fn prob(classifier: &Classifier, text: &str, label: &str) -> f32 {
    let p = classifier.predict(text).unwrap();
    p.probs.iter().find(|(l, _)| l == label).unwrap().1
}

#[test]
fn an_ensemble_answers_with_the_mean_of_its_members_probabilities() {
    let (a, b) = (
        model(&["positive", "negative"], 1),
        model(&["positive", "negative"], 2),
    );
    let ensemble = Ensemble::new(vec![a.clone(), b.clone()]).unwrap();
    for (text, p) in TEXTS.iter().zip(ensemble.predict_batch(&TEXTS).unwrap()) {
        let mean: Vec<f32> = ensemble
            .labels()
            .iter()
            .map(|l| (prob(&a, text, l) + prob(&b, text, l)) / 2.0)
            .collect();
        let got: Vec<f32> = p.probs.iter().map(|(_, v)| *v).collect();
        assert_close(&got, &mean, 1e-6, text);
        let best = if mean[0] >= mean[1] { 0 } else { 1 };
        assert_eq!(p.label, ensemble.labels()[best], "{text}");
        assert_eq!(p.score, got[best], "{text}");
    }
    assert_ne!(
        prob(&a, TEXTS[3], "positive"),
        prob(&b, TEXTS[3], "positive"),
        "two seeds give two models, so the mean is not either one's answer"
    );
}

#[test]
fn one_model_alone_answers_exactly_as_itself() {
    let a = model(&["positive", "negative"], 1);
    let ensemble = Ensemble::new(vec![a.clone()]).unwrap();
    assert_eq!(
        ensemble.predict_batch(&TEXTS).unwrap(),
        a.predict_batch(&TEXTS).unwrap()
    );
}

#[test]
fn members_are_matched_by_label_name_and_alias_not_by_position() {
    let a = model(&["positive", "negative"], 1);
    // Trained on 0/1 with 0 standing for positive: position 0 is positive here and negative
    // (the first label sorted) in `a`.
    let mut b = model(&["0", "1"], 2);
    let aliases = BTreeMap::from([
        ("positive".into(), "0".into()),
        ("negative".into(), "1".into()),
    ]);
    b.set_label_aliases(aliases).unwrap();
    let ensemble = Ensemble::new(vec![a.clone(), b.clone()]).unwrap();
    assert_eq!(ensemble.labels(), a.labels());
    for (text, p) in TEXTS.iter().zip(ensemble.predict_batch(&TEXTS).unwrap()) {
        for (label, value) in &p.probs {
            let theirs = if label == "positive" { "0" } else { "1" };
            let mean = (prob(&a, text, label) + prob(&b, text, theirs)) / 2.0;
            assert_close(&[*value], &[mean], 1e-6, &format!("{text}: {label}"));
        }
    }
}

#[test]
fn models_with_other_labels_are_refused_with_both_label_lists() {
    let a = model(&["positive", "negative"], 1);
    let b = model(&["spam", "ham"], 2);
    let message = error_text(Ensemble::new(vec![a, b]));
    assert_mentions(
        "label mismatch",
        &message,
        &["model 2", "ham, spam", "negative, positive"],
    );
    assert_mentions(
        "no models",
        &error_text(Ensemble::new(vec![])),
        &["at least one model"],
    );
}

#[test]
fn evaluate_scores_the_mean_probabilities() {
    let (a, b) = (
        model(&["positive", "negative"], 1),
        model(&["positive", "negative"], 2),
    );
    let ensemble = Ensemble::new(vec![a, b]).unwrap();
    let data = examples(&["positive", "negative"]);
    let evaluation = ensemble.evaluate(&data).unwrap();
    let texts: Vec<&str> = data.iter().map(|e| e.text.as_str()).collect();
    let right = ensemble
        .predict_batch(&texts)
        .unwrap()
        .iter()
        .zip(&data)
        .filter(|(p, e)| p.label == e.label)
        .count();
    assert_eq!(evaluation.accuracy, right as f64 / data.len() as f64);
}

#[test]
fn predict_and_eval_take_several_models() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        model(&["positive", "negative"], 1),
        model(&["positive", "negative"], 2),
    );
    a.save(dir.path().join("a")).unwrap();
    b.save(dir.path().join("b")).unwrap();
    model(&["spam", "ham"], 3)
        .save(dir.path().join("c"))
        .unwrap();
    let data = examples(&["positive", "negative"]);
    std::fs::write(dir.path().join("data.tsv"), tsv(&data)).unwrap();
    let ensemble = Ensemble::new(vec![a, b]).unwrap();

    let out = success(&run(
        dir.path(),
        &["predict", "-m", "a", "-m", "b", "--json", TEXTS[3]],
    ));
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let expected = ensemble.predict(TEXTS[3]).unwrap();
    assert_eq!(line["label"], expected.label);
    for (label, value) in &expected.probs {
        let printed = line["probs"][label].as_f64().unwrap() as f32;
        assert_close(&[printed], &[*value], 1e-6, label);
    }

    let out = run(
        dir.path(),
        &[
            "eval", "-m", "a", "--model", "b", "--data", "data.tsv", "--json",
        ],
    );
    let figures: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let accuracy = ensemble.evaluate(&data).unwrap().accuracy;
    assert_eq!(figures["accuracy"].as_f64().unwrap(), accuracy);

    let err = failure(
        &run(
            dir.path(),
            &["eval", "-m", "a", "-m", "c", "--data", "data.tsv"],
        ),
        1,
    );
    assert_mentions("eval with other labels", &err, &["model 2", "ham, spam"]);
}
