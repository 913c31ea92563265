//! A model directory is replaced as a whole: a save killed at any step leaves a directory that
//! loads as the old model or the new one (its training report included), and the directory's
//! other entries survive. Kills are made through the save's fault-injection hook, at every step
//! it reports.

use crate::common::{args, copy_dir, failure, run, success, tiny_classifier};
use candle_core::Device;
use lstm_sentiment::model_dir::{self, SaveStep};
use lstm_sentiment::report::{REPORT_FILE, TRAINING_FILE};
use lstm_sentiment::{Classifier, ModelConfig, WeightDtype};
use std::ops::ControlFlow;
use std::path::Path;

/// What a model directory holds, as loaded: config, tokenizer and weights, and the training
/// report and its picture (empty where absent), in bytes.
type Fingerprint = (String, String, Vec<u8>, Vec<u8>, Vec<u8>);

/// A model as a save writes it.
struct Saved<'a> {
    classifier: &'a Classifier,
    config: ModelConfig,
}

impl<'a> Saved<'a> {
    fn new(classifier: &'a Classifier, dtype: Option<WeightDtype>) -> Self {
        let mut config = classifier.config().clone();
        config.dtype = dtype;
        Saved { classifier, config }
    }

    /// The model without its training report, as a model made elsewhere has none.
    fn without_report(classifier: &'a Classifier) -> Self {
        let mut saved = Saved::new(classifier, None);
        saved.config.training = None;
        saved
    }

    /// Saves into `dir`, stopping dead after step `kill_after` (counted from 0) if given.
    fn save(&self, dir: &Path, kill_after: Option<usize>) -> Vec<SaveStep> {
        let mut steps = Vec::new();
        let result = model_dir::save_with_hook(
            dir,
            &self.config,
            self.classifier.tokenizer(),
            self.classifier.weights(),
            &mut |step| {
                steps.push(step);
                if Some(steps.len() - 1) == kill_after {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert_eq!(result.is_err(), kill_after.is_some(), "{steps:?}");
        steps
    }

    /// What loading this model back gives, from a directory of its own.
    fn fingerprint(&self) -> Fingerprint {
        let tmp = tempfile::tempdir().unwrap();
        self.save(tmp.path(), None);
        fingerprint(tmp.path())
    }
}

fn fingerprint(dir: &Path) -> Fingerprint {
    let files = model_dir::load(dir, &Device::Cpu)
        .unwrap_or_else(|e| panic!("the directory does not load: {e}"));
    let report_file =
        |name: &str| std::fs::read(model_dir::current_path(dir, name)).unwrap_or_default();
    (
        files.config.to_json(),
        files.tokenizer.to_json().unwrap(),
        model_dir::weights_to_bytes(&files.weights).unwrap(),
        report_file(TRAINING_FILE),
        report_file(REPORT_FILE),
    )
}

/// Entries a model directory may hold besides the model: they must outlive every save.
const OTHERS: [(&str, &str); 3] = [
    ("checkpoint/checkpoint.safetensors", "a checkpoint"),
    (".git/HEAD", "ref: refs/heads/main"),
    ("notes.txt", "the user's own notes"),
];

fn add_others(dir: &Path) {
    for (path, text) in OTHERS {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn assert_others_intact(dir: &Path, when: &str) {
    for (path, text) in OTHERS {
        let got = std::fs::read_to_string(dir.join(path)).unwrap_or_default();
        assert_eq!(got, text, "{path} {when}");
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_save_killed_at_any_step_leaves_the_old_model_or_the_new_one() {
    let first = tiny_classifier(&["good", "bad"]);
    let second = tiny_classifier(&["nice", "awful", "meh", "fine"]);
    let old = Saved::new(&first, None);
    let new = Saved::new(&second, None);
    // The in-place conversion of the old model to float16.
    let converted = Saved::new(&first, Some(WeightDtype::Float16));
    let prints = [
        old.fingerprint(),
        new.fingerprint(),
        converted.fingerprint(),
    ];
    assert!(prints[0] != prints[1] && prints[0] != prints[2]);
    let name = |print: &Fingerprint| match prints.iter().position(|p| p == print) {
        Some(i) => ["old", "new", "converted"][i],
        None => "a mix of models",
    };

    let probe = tempfile::tempdir().unwrap();
    let steps = new.save(probe.path(), None);
    assert!(steps.len() >= 4 * 2 + 4, "{steps:?}");
    for (kill, step) in steps.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        old.save(dir, None);
        add_others(dir);
        new.save(dir, Some(kill));
        let when = format!("after a kill after {step:?}");
        let after_kill = fingerprint(dir);
        assert!(
            after_kill == prints[0] || after_kill == prints[1],
            "{when}: neither the old model nor the new one"
        );
        assert_others_intact(dir, &when);

        // The next save, itself killed at each of its steps (the first ones finish what the
        // killed save left), leaves what was there or the converted model.
        let next_steps = {
            let copy = tempfile::tempdir().unwrap();
            copy_dir(dir, copy.path());
            converted.save(copy.path(), None)
        };
        for (next_kill, next_step) in next_steps.iter().enumerate() {
            let copy = tempfile::tempdir().unwrap();
            copy_dir(dir, copy.path());
            converted.save(copy.path(), Some(next_kill));
            let got = fingerprint(copy.path());
            assert!(
                got == after_kill || got == prints[2],
                "{when} and one after {next_step:?}: got {}",
                name(&got)
            );
            assert_others_intact(copy.path(), &when);
        }

        // A save that runs to the end leaves the new model and nothing of its own besides.
        converted.save(dir, None);
        assert!(fingerprint(dir) == prints[2], "{when}, then a whole save");
        assert_others_intact(dir, &when);
        assert_eq!(
            entries(dir),
            [
                ".git",
                "README.md",
                "checkpoint",
                "config.json",
                "model.safetensors",
                "notes.txt",
                "report.svg",
                "tokenizer.json",
                "training.json"
            ],
            "{when}"
        );
    }
}

#[test]
fn a_model_without_a_report_takes_the_old_report_away_with_its_commit() {
    let first = tiny_classifier(&["good", "bad"]);
    let second = tiny_classifier(&["nice", "awful", "meh", "fine"]);
    let old = Saved::new(&first, None);
    let bare = Saved::without_report(&second);
    let prints = [old.fingerprint(), bare.fingerprint()];
    assert!(!prints[0].3.is_empty() && !prints[0].4.is_empty());
    assert!(prints[1].3.is_empty() && prints[1].4.is_empty());

    let probe = tempfile::tempdir().unwrap();
    let steps = bare.save(probe.path(), None);
    assert!(
        steps.contains(&SaveStep::Marked(TRAINING_FILE)),
        "{steps:?}"
    );
    for (kill, step) in steps.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        old.save(dir, None);
        add_others(dir);
        bare.save(dir, Some(kill));
        let when = format!("after a kill after {step:?}");
        let after_kill = fingerprint(dir);
        assert!(
            after_kill == prints[0] || after_kill == prints[1],
            "{when}: neither the old model nor the new one"
        );
        bare.save(dir, None);
        assert!(fingerprint(dir) == prints[1], "{when}, then a whole save");
        assert_others_intact(dir, &when);
        assert!(!entries(dir)
            .iter()
            .any(|e| e.ends_with(".svg") || e.starts_with("training")));
    }
}

#[test]
fn convert_in_place_keeps_the_other_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    tiny_classifier(&["good", "bad"]).save(&dir).unwrap();
    add_others(&dir);
    let line = args("convert --model model --out model --dtype f16");
    success(&run(tmp.path(), &line));
    let loaded = Classifier::load(&dir).unwrap();
    assert_eq!(loaded.config().dtype, Some(WeightDtype::Float16));
    assert_others_intact(&dir, "after convert");
}

#[test]
fn a_model_is_not_written_to_standard_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), &args("convert --out - --dtype f16"));
    let err = failure(&out, 1);
    assert!(err.contains("standard output"), "{err}");
    assert!(!tmp.path().join("-").exists());
}
