//! The CUDA backend against the CPU: the same model gives the same numbers on both. These run
//! only in builds with the `cuda` feature, on a machine with a GPU:
//! `cargo test --release --features cuda --test integration cuda::`.

use crate::common::{ex, max_diff_rows, run, stderr, stdout, trained};
use lstm_sentiment::{Cell, Classifier, DeviceSpec, Example, TrainConfig};

const GPU: DeviceSpec = DeviceSpec::Cuda(0);

/// Texts of 1 to 12 words whose label is carried by one cue word; lengths vary so that
/// batches hold texts that end at different steps.
fn examples(n: usize) -> Vec<Example> {
    const CUES: [(&str, &str); 4] = [
        ("great", "positive"),
        ("lovely", "positive"),
        ("awful", "negative"),
        ("boring", "negative"),
    ];
    const FILLER: [&str; 6] = ["the", "film", "was", "a", "plot", "really"];
    (0..n)
        .map(|i| {
            let (cue, label) = CUES[i % CUES.len()];
            let mut words: Vec<&str> = (0..i % 12).map(|j| FILLER[(i + j) % 6]).collect();
            words.insert((i * 7) % (words.len() + 1), cue);
            ex(label, &words.join(" "))
        })
        .collect()
}

fn texts(examples: &[Example]) -> Vec<&str> {
    examples.iter().map(|e| e.text.as_str()).collect()
}

#[test]
fn builtin_model_gives_the_cpu_logits_on_the_gpu() {
    let cpu = Classifier::builtin().unwrap();
    let gpu = cpu.clone().to_device(GPU).unwrap();
    assert!(gpu.device().is_cuda());
    let long = "the plot drags and the acting is wooden ".repeat(40);
    let texts = [
        "",
        "great",
        "A wonderful, moving film. I loved every minute of it.",
        "The food was cold and the staff were rude.",
        "菜很好吃，送餐也快",
        long.as_str(),
    ];
    let (a, b) = (cpu.logits(&texts).unwrap(), gpu.logits(&texts).unwrap());
    assert!(max_diff_rows(&a, &b) < 1e-4, "{a:?}\n{b:?}");
    let labels = |c: &Classifier| -> Vec<String> {
        let p = c.predict_batch(&texts).unwrap();
        p.into_iter().map(|p| p.label).collect()
    };
    assert_eq!(labels(&cpu), labels(&gpu));
}

/// Training takes the same steps on both devices (dropout masks come from the same seeded
/// stream on the host), so the two runs end close; float sums in another order keep them from
/// being bit-identical.
#[test]
fn training_on_the_gpu_follows_the_cpu() {
    let data = examples(96);
    let dev = examples(40);
    for (cell, bidirectional, num_layers) in [
        (Cell::Lstm, false, 1),
        (Cell::Gru, true, 2),
        (Cell::Rnn, true, 1),
    ] {
        let config = TrainConfig {
            cell,
            bidirectional,
            num_layers,
            embedding_dim: 16,
            hidden_size: 12,
            dropout: 0.1,
            epochs: 2,
            batch_size: 8,
            lr: 0.01,
            patience: 0,
            seed: 3,
            ..TrainConfig::default()
        };
        let (on_cpu, cpu_report) = trained(&data, Some(&dev), &config);
        let gpu_config = TrainConfig {
            device: GPU,
            ..config
        };
        let (on_gpu, gpu_report) = trained(&data, Some(&dev), &gpu_config);
        assert!(on_gpu.device().is_cuda(), "{cell:?}");
        let what = format!("{cell:?} bidirectional={bidirectional} layers={num_layers}");
        let (a, b) = (
            on_cpu.logits(&texts(&dev)).unwrap(),
            on_gpu.logits(&texts(&dev)).unwrap(),
        );
        assert!(max_diff_rows(&a, &b) < 1e-3, "{what}: {a:?}\n{b:?}");
        for (c, g) in cpu_report.epochs.iter().zip(&gpu_report.epochs) {
            assert!(
                (c.train_loss - g.train_loss).abs() < 1e-3,
                "{what}: {c:?} {g:?}"
            );
            assert_eq!(c.dev_accuracy, g.dev_accuracy, "{what}");
        }
    }
}

#[test]
fn a_model_trained_on_the_gpu_loads_on_the_cpu() {
    let config = TrainConfig {
        embedding_dim: 16,
        hidden_size: 12,
        epochs: 1,
        batch_size: 8,
        device: GPU,
        ..TrainConfig::default()
    };
    let data = examples(64);
    let (on_gpu, _) = trained(&data, None, &config);
    let dir = tempfile::tempdir().unwrap();
    on_gpu.save(dir.path()).unwrap();
    let on_cpu = Classifier::load(dir.path()).unwrap();
    assert!(on_cpu.device().is_cpu());
    let t = texts(&data);
    let diff = max_diff_rows(&on_gpu.logits(&t).unwrap(), &on_cpu.logits(&t).unwrap());
    assert!(diff < 1e-4, "{diff}");
}

#[test]
fn cli_predicts_on_the_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let text = "A wonderful, moving film. I loved every minute of it.";
    let on = |device: &str| {
        let out = run(dir.path(), &["--device", device, "predict", "--json", text]);
        assert!(out.status.success(), "{}", stderr(&out));
        let line: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        (line["label"].clone(), line["score"].as_f64().unwrap())
    };
    let (cpu, gpu) = (on("cpu"), on("cuda"));
    assert_eq!(cpu.0, gpu.0);
    assert!((cpu.1 - gpu.1).abs() < 1e-4, "{cpu:?} {gpu:?}");
}
