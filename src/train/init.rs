//! Where a run starts: the model its data and hyperparameters describe, the optimizer's
//! settings, and word vectors from a file or from word2vec trained first.

use super::encoded::Encoded;
use super::report::OnEvent;
use super::state::EMBEDDING;
use super::{EmbeddingInit, TrainConfig, TrainEvent};
use crate::config::{ModelConfig, WeightDtype};
use crate::data::Example;
use crate::error::{Error, Result};
use crate::model::Weights;
use crate::tokenizer::TextTokenizer;
use crate::vectors::{embedding_init, Embeddings, Utf8};
use crate::word2vec::{Architecture, Word2VecConfig};
use candle_core::Tensor;
use candle_nn::ParamsAdamW;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// The model that the data and the hyperparameters describe, checked.
pub(super) fn model_config(config: &TrainConfig, data: &Encoded) -> Result<ModelConfig> {
    let mut model_config = ModelConfig {
        format_version: 1,
        cell: config.cell,
        vocab_size: data.tokenizer.vocab_size(),
        embedding_dim: config.embedding_dim,
        ngram_buckets: config.ngram_buckets,
        hidden_size: config.hidden_size,
        num_layers: config.num_layers,
        bidirectional: config.bidirectional,
        pooling: config.pooling,
        labels: data.labels.clone(),
        label_aliases: Default::default(),
        max_length: config.max_length,
        truncation: config.truncation,
        tokenizer: config.tokenizer.clone(),
        dtype: Some(WeightDtype::Float32),
        training: None,
    };
    model_config.format_version = model_config.needed_format_version();
    model_config.validate()?;
    Ok(model_config)
}

pub(super) fn adamw(config: &TrainConfig) -> ParamsAdamW {
    ParamsAdamW {
        lr: config.lr,
        weight_decay: config.weight_decay,
        ..Default::default()
    }
}

/// Starts the embedding rows from word vectors when the config asks for it, and refuses
/// vectors that are not finite.
pub(super) fn start_from_vectors(
    config: &TrainConfig,
    tokenizer: &TextTokenizer,
    train: &[Example],
    weights: &mut Weights,
    on_event: OnEvent,
) -> Result<()> {
    let vectors = match &config.embeddings {
        EmbeddingInit::Random => return Ok(()),
        EmbeddingInit::Vectors { path } => Embeddings::from_file(path, Utf8::Lossy)?,
        EmbeddingInit::Word2Vec { unlabeled } => pretrain_word2vec(config, train, unlabeled)?,
    };
    let table = weights
        .get(EMBEDDING)
        .ok_or_else(|| Error::Config("no embedding to start".into()))?;
    let (shape, device) = (table.shape().clone(), table.device().clone());
    let mut values = table.flatten_all()?.to_vec1::<f32>()?;
    let coverage = embedding_init(tokenizer, &vectors, &mut values)?;
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::Config(format!(
            "the starting word vectors hold a non-finite value ({v})"
        )));
    }
    weights.insert(
        EMBEDDING.to_string(),
        Tensor::from_vec(values, shape, &device)?,
    );
    let _ = on_event(&TrainEvent::Embeddings {
        matched: coverage.matched,
        words: coverage.words,
    });
    Ok(())
}

fn pretrain_word2vec(
    config: &TrainConfig,
    train: &[Example],
    unlabeled: &Option<PathBuf>,
) -> Result<Embeddings> {
    let mut texts: Vec<String> = train.iter().map(|e| e.text.clone()).collect();
    if let Some(path) = unlabeled {
        texts.extend(crate::data::read_lines(path)?);
    }
    let w2v = Word2VecConfig {
        architecture: Architecture::SkipGram,
        dim: config.embedding_dim,
        min_count: config.tokenizer.min_count as u64,
        lowercase: config.tokenizer.lowercase,
        // One thread: the run stays reproducible from its seed.
        threads: 1,
        seed: config.seed,
        ..Word2VecConfig::default()
    };
    crate::word2vec::train(&texts, &w2v, |_| ControlFlow::Continue(()))
}
