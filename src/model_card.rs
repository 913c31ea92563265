//! The model card (README.md) written into every saved model directory, in the Hub's format:
//! YAML front matter for the Hub's index, then what the model is, its data and its figures.

use crate::config::ModelConfig;
use serde_json::Value;
use std::fmt::Write;

/// Renders the card from the config (and the training record in it, when there is one).
pub fn render(config: &ModelConfig) -> String {
    let training = config.training.as_ref();
    let mut s = String::new();
    front_matter(&mut s, config, training);
    description(&mut s, config);
    labels_and_use(&mut s, config);
    if let Some(t) = training {
        training_section(&mut s, config, t);
    }
    s
}

/// The YAML front matter: the Hub's tags and, with dev figures, its model index.
fn front_matter(s: &mut String, config: &ModelConfig, training: Option<&Value>) {
    let get = |key: &str| training.and_then(|t| t.get(key));
    let dev_accuracy = get("dev_accuracy").and_then(Value::as_f64);
    s.push_str("---\nlibrary_name: lstm-sentiment\npipeline_tag: text-classification\ntags:\n");
    for tag in [
        "text-classification",
        "sentiment-analysis",
        config.cell.name(),
        "candle",
        "safetensors",
    ] {
        let _ = writeln!(s, "- {tag}");
    }
    if let Some(acc) = dev_accuracy {
        s.push_str("model-index:\n- name: lstm-sentiment\n  results:\n  - task:\n      type: text-classification\n");
        s.push_str("    dataset:\n      name: dev set given at training\n      type: custom\n    metrics:\n");
        let _ = writeln!(s, "    - type: accuracy\n      value: {acc:.4}");
        if let Some(f1) = get("dev_macro_f1").and_then(Value::as_f64) {
            let _ = writeln!(
                s,
                "    - type: f1\n      name: macro-F1\n      value: {f1:.4}"
            );
        }
    }
    s.push_str("---\n\n");
}

/// What the network is.
fn description(s: &mut String, config: &ModelConfig) {
    let direction = if config.bidirectional {
        "bidirectional "
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "# {} text classifier\n\nA {direction}{} classifier made with \
         [lstm-sentiment](https://crates.io/crates/lstm-sentiment): a word-level tokenizer, an \
         embedding table ({} x {}), {} {} layer(s) of hidden size {}, and a linear layer to the \
         labels. The weights are a PyTorch state_dict of a module with `embedding`, `encoder` \
         and `head` (see the tool's README).\n",
        config.cell.name().to_uppercase(),
        config.cell.name().to_uppercase(),
        config.vocab_size,
        config.embedding_dim,
        config.num_layers,
        config.cell.name().to_uppercase(),
        config.hidden_size,
    );
    if config.ngram_buckets > 0 {
        let _ = writeln!(
            s,
            "Each word vector has the vector of its bigram (the token and the one before it) \
             added to it, hashed into {} buckets of a second table, `ngram_embedding` ({} x {}), \
             as fastText's word n-grams.\n",
            config.ngram_buckets, config.ngram_buckets, config.embedding_dim,
        );
    }
    if config.needed_format_version() > 1 {
        let _ = writeln!(
            s,
            "The linear layer reads {} (pooling `{}`). Texts longer than {} tokens keep {} \
             (truncation `{}`).\n",
            config.pooling.describe(),
            config.pooling,
            config.max_length,
            config.truncation.describe(),
            config.truncation,
        );
    }
}

/// The labels, their aliases and how to run the model.
fn labels_and_use(s: &mut String, config: &ModelConfig) {
    let _ = writeln!(s, "## Labels\n\n{}\n", config.labels.join(", "));
    if !config.label_aliases.is_empty() {
        let aliases: Vec<String> = config
            .label_aliases
            .iter()
            .map(|(a, l)| format!("`{a}` = {l}"))
            .collect();
        let _ = writeln!(
            s,
            "Data files may also write them as {}.\n",
            aliases.join(", ")
        );
    }
    s.push_str("## Use\n\n```sh\nlstm-sentiment predict --model DIR \"some text\"\n");
    s.push_str(
        "lstm-sentiment predict --model hf:OWNER/NAME \"some text\"   # once uploaded\n```\n\n",
    );
}

/// The training settings and every epoch's figures.
fn training_section(s: &mut String, config: &ModelConfig, t: &Value) {
    s.push_str("## Training\n\n| setting | value |\n|---|---|\n");
    let _ = writeln!(
        s,
        "| training examples | {} |",
        t.get("train_examples").unwrap_or(&Value::Null)
    );
    let _ = writeln!(
        s,
        "| dev examples | {} |",
        t.get("dev_examples").unwrap_or(&Value::Null)
    );
    if let Some(Value::Object(hp)) = t.get("config") {
        for (k, v) in hp {
            if k != "tokenizer" {
                let _ = writeln!(s, "| {k} | {v} |");
            }
        }
    }
    let _ = writeln!(s, "| max length | {} tokens |", config.max_length);
    s.push_str("\n## Evaluation on the dev set\n\n| epoch | train loss | dev loss | dev accuracy | dev macro-F1 |\n|---|---|---|---|---|\n");
    if let Some(Value::Array(epochs)) = t.get("epochs") {
        for e in epochs {
            let f = |k: &str| e.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
            let best = e.get("epoch") == t.get("best_epoch");
            let _ = writeln!(
                s,
                "| {}{} | {:.4} | {:.4} | {:.4} | {:.4} |",
                e.get("epoch").unwrap_or(&Value::Null),
                if best { " (kept)" } else { "" },
                f("train_loss"),
                f("dev_loss"),
                f("dev_accuracy"),
                f("dev_macro_f1")
            );
        }
    }
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cell, Pooling, Truncation, FORMAT_VERSION};

    #[test]
    fn card_has_front_matter_labels_and_figures() {
        let config = ModelConfig {
            format_version: FORMAT_VERSION,
            cell: Cell::Gru,
            vocab_size: 100,
            embedding_dim: 8,
            ngram_buckets: 0,
            hidden_size: 4,
            num_layers: 1,
            bidirectional: true,
            pooling: Pooling::Last,
            labels: vec!["negative".into(), "positive".into()],
            label_aliases: Default::default(),
            max_length: 64,
            truncation: Truncation::Head,
            tokenizer: Default::default(),
            dtype: None,
            training: Some(serde_json::json!({
                "dev_accuracy": 0.875, "dev_macro_f1": 0.87, "best_epoch": 2,
                "epochs": [{"epoch": 1, "dev_accuracy": 0.8}, {"epoch": 2, "dev_accuracy": 0.875}]
            })),
        };
        let card = render(&config);
        assert!(card.starts_with("---\nlibrary_name: lstm-sentiment\n"));
        assert!(card.contains("- gru\n"));
        assert!(card.contains("value: 0.8750"));
        assert!(card.contains("negative, positive"));
        assert!(card.contains("| 2 (kept) |"));
        assert!(!card.contains("pooling"));
        assert!(!card.contains("bigram"));
        let options = ModelConfig {
            pooling: Pooling::Mean,
            truncation: Truncation::Tail,
            ngram_buckets: 1000,
            ..config
        };
        let card = render(&options);
        assert!(card
            .contains("hashed into 1000 buckets of a second table, `ngram_embedding` (1000 x 8)"));
        assert!(card.contains("the mean of the hidden states over every step (pooling `mean`)"));
        assert!(card.contains("longer than 64 tokens keep the last tokens (truncation `tail`)"));
    }
}
