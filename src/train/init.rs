//! Where a run starts: the model its data and hyperparameters describe, the optimizer's
//! settings, and word vectors from a file or from word2vec trained first.

use super::encoded::Encoded;
use super::report::OnEvent;
use super::state::EMBEDDING;
use super::{Checkpointing, EmbeddingInit, EncoderInit, TrainConfig, TrainEvent};
use crate::config::{ModelConfig, WeightDtype};
use crate::data::Example;
use crate::error::{Error, Result};
use crate::model::Weights;
use crate::pretrain::{pretrain, Objective, PretrainConfig, Pretrained, PretrainedConfig};
use crate::tokenizer::TextTokenizer;
use crate::vectors::{embedding_init, Embeddings, Utf8};
use crate::word2vec::{Architecture, Word2VecConfig};
use candle_core::Tensor;
use candle_nn::ParamsAdamW;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// The model that the data and the hyperparameters describe, checked.
pub(super) fn model_config(config: &TrainConfig, data: &Encoded) -> Result<ModelConfig> {
    let mut model_config = ModelConfig {
        format_version: 1,
        cell: config.cell,
        vocab_size: data.tokenizer.vocab_size(),
        embedding_dim: config.embedding_dim,
        ngram_buckets: config.ngram_buckets.unwrap_or(0),
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
        EmbeddingInit::Word2Vec { unlabeled, .. } => pretrain_word2vec(config, train, unlabeled)?,
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

/// The pretrained encoder the config starts from, read (and checked against the run's sizes
/// and tokenizer settings) or pretrained here first; `None` for a fresh encoder. `builtin` is
/// the built-in encoder when the caller has loaded it already.
pub(super) fn pretrained_encoder(
    config: &TrainConfig,
    train: &[Example],
    builtin: Option<Pretrained>,
    on_event: OnEvent,
) -> Result<Option<Pretrained>> {
    match &config.encoder {
        // A run resolves `Auto` before it gets here; unresolved, it starts fresh.
        EncoderInit::Random | EncoderInit::Auto => Ok(None),
        EncoderInit::Pretrained { dir } => {
            let pretrained = Pretrained::load(dir, &candle_core::Device::Cpu)?;
            check_fits(config, &pretrained.config, dir)?;
            Ok(Some(pretrained))
        }
        EncoderInit::BuiltinChinese => {
            let pretrained = match builtin {
                Some(loaded) => loaded,
                None => crate::builtin::chinese_encoder(&candle_core::Device::Cpu)?,
            };
            check_fits(
                config,
                &pretrained.config,
                Path::new("<built-in>/zh-encoder"),
            )?;
            Ok(Some(pretrained))
        }
        EncoderInit::PretrainLm { unlabeled, epochs } => {
            let mut texts: Vec<String> = train.iter().map(|e| e.text.clone()).collect();
            if let Some(path) = unlabeled {
                texts.extend(crate::data::read_lines(path)?);
            }
            let lm = PretrainConfig {
                objective: Objective::Lm,
                cell: config.cell,
                embedding_dim: config.embedding_dim,
                hidden_size: config.hidden_size,
                num_layers: config.num_layers,
                bidirectional: config.bidirectional,
                epochs: *epochs,
                tokenizer: config.tokenizer.clone(),
                seed: config.seed,
                ..PretrainConfig::default()
            };
            let forward = &mut |e: &crate::pretrain::PretrainEvent| {
                on_event(&TrainEvent::Pretraining(e.clone()))
            };
            let (pretrained, report) = pretrain(&texts, &lm, &Checkpointing::default(), forward)?;
            if report.interrupted {
                return Err(Error::Cancelled);
            }
            Ok(Some(pretrained))
        }
    }
}

/// Refuses a pretrained encoder whose sizes, cell or tokenizer settings differ from the run's,
/// naming both values.
fn check_fits(config: &TrainConfig, pretrained: &PretrainedConfig, dir: &Path) -> Result<()> {
    let shape = &pretrained.shape;
    let sizes = [
        ("embedding_dim", shape.embedding_dim, config.embedding_dim),
        ("hidden_size", shape.hidden_size, config.hidden_size),
        ("num_layers", shape.num_layers, config.num_layers),
    ];
    let mut differ: Vec<String> = (sizes.iter())
        .filter(|(_, theirs, ours)| theirs != ours)
        .map(|(what, theirs, ours)| format!("{what} {theirs} where the classifier has {ours}"))
        .collect();
    if shape.cell != config.cell {
        differ.push(format!(
            "cell {} where the classifier has {}",
            shape.cell, config.cell
        ));
    }
    if shape.bidirectional != config.bidirectional {
        let name = |b: bool| if b { "bidirectional" } else { "one direction" };
        differ.push(format!(
            "{} where the classifier has {}",
            name(shape.bidirectional),
            name(config.bidirectional)
        ));
    }
    let (theirs, ours) = (&pretrained.tokenizer, &config.tokenizer);
    if theirs.lowercase != ours.lowercase {
        let name = |l: bool| if l { "lowercased" } else { "cased" };
        differ.push(format!(
            "a {} tokenizer where the classifier has a {} one",
            name(theirs.lowercase),
            name(ours.lowercase)
        ));
    }
    let vocabulary = [
        ("max_vocab", theirs.max_vocab, ours.max_vocab),
        ("min_count", theirs.min_count, ours.min_count),
    ];
    differ.extend(
        (vocabulary.iter())
            .filter(|(_, t, o)| t != o)
            .map(|(what, t, o)| format!("tokenizer {what} {t} where the classifier has {o}")),
    );
    if differ.is_empty() {
        return Ok(());
    }
    Err(Error::model(
        dir.join(crate::model_dir::CONFIG_FILE),
        format!(
            "the pretrained encoder does not fit the classifier: it has {} (a classifier \
             started from it takes its cell, sizes, direction and tokenizer)",
            differ.join("; ")
        ),
    ))
}

/// Starts the embedding and the encoder from `pretrained`; the head keeps its fresh weights.
pub(super) fn start_from_pretrained(
    pretrained: &Pretrained,
    builtin: bool,
    weights: &mut Weights,
    on_event: OnEvent,
) -> Result<()> {
    for tensor in pretrained.config.shape.tensors() {
        let value = pretrained.weights.get(&tensor.name).ok_or_else(|| {
            Error::Config(format!(
                "the pretrained encoder lacks tensor {}",
                tensor.name
            ))
        })?;
        let device = weights
            .get(&tensor.name)
            .map(|t| t.device().clone())
            .ok_or_else(|| Error::Config(format!("the classifier lacks tensor {}", tensor.name)))?;
        weights.insert(tensor.name, value.to_device(&device)?);
    }
    let _ = on_event(&TrainEvent::PretrainedEncoder {
        objective: pretrained.config.objective,
        vocab_size: pretrained.config.shape.vocab_size,
        builtin,
    });
    Ok(())
}
