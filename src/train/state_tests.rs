//! Training's row-sparse gradients of the two tables (words and bigram buckets), read back
//! from AdamW's first moments after one step, against the dense gradients of the whole tables
//! through the plain path that prediction takes.

use super::*;
use crate::config::{ModelConfig, NGRAM_EMBEDDING_TENSOR};
use crate::dropout::Generator;
use crate::model::init_weights;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn config() -> ModelConfig {
    // Built from JSON so that optional fields added later take their defaults.
    let json = serde_json::json!({
        "format_version": 3,
        "cell": "lstm",
        "vocab_size": 12,
        "embedding_dim": 4,
        "ngram_buckets": 7,
        "hidden_size": 5,
        "num_layers": 1,
        "bidirectional": true,
        "labels": ["negative", "positive"],
        "max_length": 64,
        "tokenizer": crate::TokenizerConfig::default(),
    });
    let config: ModelConfig = serde_json::from_value(json).unwrap();
    config.validate().unwrap();
    config
}

/// (dense gradient, first moment / (1 - beta1)) agree for every row of the table.
fn assert_same(what: &str, dense: &[f32], moment: &[f32], beta1: f32) {
    assert_eq!(dense.len(), moment.len(), "{what}");
    for (i, (d, m)) in dense.iter().zip(moment).enumerate() {
        let sparse = m / (1.0 - beta1);
        assert!(
            (d - sparse).abs() <= 1e-5 * (1.0 + d.abs()),
            "{what}[{i}]: dense {d}, row-sparse {sparse}"
        );
    }
}

#[test]
fn row_gradients_of_both_tables_equal_the_dense_gradients_of_the_plain_path() {
    let (config, device) = (config(), Device::Cpu);
    let mut weights = init_weights(&config, &mut StdRng::seed_from_u64(5), &device).unwrap();
    // Bigram vectors start at zero; give them values, so that they shape the gradients too.
    let mut rng = StdRng::seed_from_u64(6);
    let values: Vec<f32> = (0..7 * 4).map(|_| rng.random_range(-0.5..0.5)).collect();
    let table = Tensor::from_vec(values, (7, 4), &device).unwrap();
    weights.insert(NGRAM_EMBEDDING_TENSOR.to_string(), table);
    // Repeated tokens and pairs, an empty text, and 7 buckets for up to 144 pairs: buckets
    // shared within and across texts.
    let seqs = vec![
        vec![3, 4, 5, 3, 4],
        vec![],
        vec![4, 3],
        vec![11, 2, 9, 4, 10, 6],
    ];
    let y = [0u32, 1, 1, 0];

    let dense_vars: Vec<(String, Var)> = [EMBEDDING, NGRAMS]
        .iter()
        .map(|name| (name.to_string(), Var::from_tensor(&weights[*name]).unwrap()))
        .collect();
    let mut dense_weights = weights.clone();
    for (name, var) in &dense_vars {
        dense_weights.insert(name.clone(), var.as_tensor().clone());
    }
    let dense = Model::from_weights(&config, &dense_weights).unwrap();
    let out = dense
        .forward(&Batch::new(&seqs, &device).unwrap(), None)
        .unwrap();
    let targets = Tensor::new(&y, &device).unwrap();
    let loss = candle_nn::loss::cross_entropy(&out.logits, &targets).unwrap();
    let grads = loss.backward().unwrap();
    let dense_grad = |i: usize| -> Vec<f32> {
        let g = grads.get(dense_vars[i].1.as_tensor()).unwrap();
        g.flatten_all().unwrap().to_vec1().unwrap()
    };

    let params = ParamsAdamW::default();
    let mut state =
        TrainState::new(config.embedding_dim, weights, false, params.clone(), 0.99).unwrap();
    let model = Model::from_weights(&config, &state.placeholder_weights(&device).unwrap());
    let mut rng = Generator::seed_from_u64(7);
    let mut no_dropout = Dropout::new(0.0, &mut rng);
    let stepped = (state.step(
        &model.unwrap(),
        &seqs,
        &y,
        &mut no_dropout,
        0.0,
        0.0,
        &device,
    ))
    .unwrap();
    assert!(matches!(stepped, Stepped::Done { .. }));
    let beta1 = params.beta1 as f32;
    let (_, [_, words_m, _]) = state.embedding.state().unwrap();
    assert_same("embedding", &dense_grad(0), &words_m, beta1);
    let (_, [_, ngrams_m, _]) = state.ngrams.as_ref().unwrap().0.state().unwrap();
    assert_same("bigram table", &dense_grad(1), &ngrams_m, beta1);
    assert!(
        ngrams_m.iter().filter(|&&m| m != 0.0).count() > 4 * 4,
        "most buckets should be touched"
    );
}
