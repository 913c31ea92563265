//! Trains a small classifier from code, saves it, loads it back and predicts.
//!
//! cargo run --release --example train_and_predict

use lstm_sentiment::{train, Classifier, Example, TrainConfig, TrainEvent};
use std::ops::ControlFlow;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A toy task: the label follows the sentiment word.
    let words = [
        ("great", "pos"),
        ("lovely", "pos"),
        ("awful", "neg"),
        ("boring", "neg"),
    ];
    let fillers = [
        "the film was",
        "our dinner was",
        "this phone is",
        "the hotel felt",
    ];
    let examples: Vec<Example> = (0..200)
        .map(|i| {
            let (word, label) = words[i % 4];
            Example {
                text: format!("{} {word}", fillers[(i / 4) % 4]),
                label: label.to_string(),
            }
        })
        .collect();

    let config = TrainConfig {
        embedding_dim: 16,
        hidden_size: 16,
        epochs: Some(5),
        lr: 0.01,
        ..TrainConfig::default()
    };
    let (classifier, report) = train(&examples, None, &config, &mut |event| {
        if let TrainEvent::Epoch(r) = event {
            println!("epoch {}: dev accuracy {:.3}", r.epoch, r.dev_accuracy);
        }
        ControlFlow::Continue(())
    })?;
    println!("kept epoch {}", report.best_epoch);

    let dir = std::env::temp_dir().join("lstm-sentiment-example");
    classifier.save(&dir)?;
    let loaded = Classifier::load(&dir)?;
    for p in loaded.predict_batch(&["the hotel felt lovely", "this phone is boring"])? {
        println!("{} {:.3}", p.label, p.score);
    }
    Ok(())
}
