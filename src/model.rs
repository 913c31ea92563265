//! The network: embedding (plus hashed bigrams, where the model has them) -> encoder -> final
//! hidden state (or a pooling of every step's) -> head, and its weights by name.

use crate::config::{Cell, EncoderShape, ModelConfig, RecurrentPart, Role};
use crate::dropout::Dropout;
use crate::embedding::Embedding;
use crate::encoder::{padded_time, DirectionWeights, Encoder, PredictCache, Steps, WordInput};
use crate::head::Head;
use crate::tokenizer::PAD_ID;
use candle_core::{DType, Device, Result, Tensor};
use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Weights by PyTorch state_dict name, in name order (so saving is deterministic).
pub type Weights = BTreeMap<String, Tensor>;

/// A padded batch of token ids, time-major.
pub struct Batch {
    /// (time, batch) u32, padded with `[PAD]`.
    pub ids: Tensor,
    /// The same ids on the host.
    host_ids: Vec<u32>,
    pub steps: Steps,
}

impl Batch {
    pub fn new(sequences: &[Vec<u32>], device: &Device) -> Result<Self> {
        let lengths: Vec<usize> = sequences.iter().map(Vec::len).collect();
        let time = padded_time(&lengths);
        let ids = padded(sequences, time);
        Ok(Self {
            ids: Tensor::from_slice(&ids, (time, sequences.len()), device)?,
            host_ids: ids,
            steps: Steps::new(&lengths, time, device)?,
        })
    }

    /// The ids on the host, as `ids` holds them: (time, batch) row-major.
    pub fn host_ids(&self) -> &[u32] {
        &self.host_ids
    }

    pub fn token_count(&self) -> usize {
        self.steps.lengths().iter().sum()
    }
}

/// Sequences padded with `[PAD]` to `time` steps, time-major: (time, batch).
pub(crate) fn padded(sequences: &[Vec<u32>], time: usize) -> Vec<u32> {
    let batch = sequences.len();
    let mut ids = vec![PAD_ID; time * batch];
    for (b, seq) in sequences.iter().enumerate() {
        for (t, &id) in seq.iter().enumerate() {
            ids[t * batch + b] = id;
        }
    }
    ids
}

/// The classifier's network.
#[derive(Debug, Clone)]
pub struct Model {
    embedding: Embedding,
    /// The hashed bigram table, where the model has one (see [`crate::ngram`]).
    ngrams: Option<Embedding>,
    encoder: Encoder,
    head: Head,
    /// What prediction keeps from call to call (see [`Model::with_predict_cache`]).
    cache: Option<Arc<PredictCache>>,
}

/// What one forward pass gives.
pub struct Output {
    /// (batch, feature size): the sentence vectors, what the head reads.
    pub features: Tensor,
    /// (batch, labels)
    pub logits: Tensor,
}

impl Model {
    /// Builds the network from named weights; the names must be those of `config.tensors()`.
    pub fn from_weights(config: &ModelConfig, weights: &Weights) -> Result<Self> {
        let get = |role: Role| tensor(weights, &role.name());
        let encoder = encoder_from_weights(&config.encoder_shape(), weights)?;
        let ngrams = (config.ngram_buckets > 0)
            .then(|| get(Role::NgramEmbedding).map(Embedding::new))
            .transpose()?;
        Ok(Self {
            embedding: Embedding::new(get(Role::Embedding)?),
            ngrams,
            encoder: encoder.with_pooling(config.pooling),
            head: Head::new(get(Role::HeadWeight)?, get(Role::HeadBias)?),
            cache: None,
        })
    }

    /// The same network keeping, for forward passes without dropout, what stays the same from
    /// call to call: the weights laid out for the kernel, and each word's product with the first
    /// layer's W_ih once worked out, up to `word_bytes` of them (with bigrams, each bucket's
    /// too, within the same bytes). Only for weights that no longer change: what is kept would
    /// not follow them.
    pub fn with_predict_cache(mut self, word_bytes: usize) -> Result<Self> {
        let vocab = self.embedding.weight().dim(0)?;
        let cache = match &self.ngrams {
            None => self.encoder.predict_cache(vocab, word_bytes),
            Some(table) => {
                let buckets = table.weight().dim(0)?;
                (self.encoder).predict_cache_with_ngrams(vocab, buckets, word_bytes)
            }
        };
        self.cache = Some(Arc::new(cache));
        Ok(self)
    }

    /// The same network with its recurrence run by `kernel`.
    pub fn with_kernel(mut self, kernel: crate::encoder::Kernel) -> Self {
        self.encoder = self.encoder.with_kernel(kernel);
        self
    }

    /// Runs over many texts without gradients, in batches of up to `batch_size` texts of
    /// similar lengths (sorted, so little padding); `f` gets each batch's output and, for each
    /// of its rows, the index of its text in `ids`.
    pub fn forward_sorted<E: From<candle_core::Error>>(
        &self,
        ids: &[Vec<u32>],
        batch_size: usize,
        device: &Device,
        mut f: impl FnMut(&[usize], &Output) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        for chunk in order.chunks(batch_size.max(1)) {
            let seqs: Vec<Vec<u32>> = chunk.iter().map(|&i| ids[i].clone()).collect();
            let out = self.forward(&Batch::new(&seqs, device)?, None)?;
            f(chunk, &out)?;
        }
        Ok(())
    }

    /// Runs the network; with `dropout` (training) it drops embeddings, between layers and
    /// before the head.
    pub fn forward(&self, batch: &Batch, dropout: Option<&mut Dropout>) -> Result<Output> {
        let (ids, (time, size)) = (&batch.host_ids, batch.ids.dims2()?);
        // (time, batch), as the ids.
        let buckets = match &self.ngrams {
            Some(table) => Some(crate::ngram::batch_buckets(
                ids,
                size,
                table.weight().dim(0)?,
            )),
            None => None,
        };
        if let (None, Some(cache)) = (&dropout, &self.cache) {
            let embedding = self.embedding.weight();
            if self.encoder.reads_words(embedding, time) {
                let words = WordInput {
                    ids,
                    embedding,
                    ngrams: (buckets.as_deref().zip(self.ngrams.as_ref()))
                        .map(|(buckets, table)| (buckets, table.weight())),
                };
                let features = (self.encoder).predict_words(words, &batch.steps, cache)?;
                return self.head(features, None);
            }
        }
        // (time, batch, dim)
        let mut xs = (self.embedding).forward_with_host_ids(&batch.ids, ids)?;
        if let Some((buckets, table)) = buckets.zip(self.ngrams.as_ref()) {
            let at = Tensor::from_slice(&buckets, (time, size), batch.ids.device())?;
            xs = (xs + table.forward_with_host_ids(&at, &buckets)?)?;
        }
        self.forward_embedded(xs, &batch.steps, dropout)
    }

    /// The network after the embedding lookup: xs is (time, batch, dim). Training looks rows up
    /// itself (only the batch's rows are trained) and enters here.
    pub fn forward_embedded(
        &self,
        mut xs: Tensor,
        steps: &Steps,
        mut dropout: Option<&mut Dropout>,
    ) -> Result<Output> {
        if let Some(d) = dropout.as_deref_mut() {
            xs = d.apply_embedding(&xs)?;
        }
        let features = self.encoder.forward(&xs, steps, dropout.as_deref_mut())?;
        self.head(features, dropout)
    }

    /// The head over the sentence vectors.
    fn head(&self, features: Tensor, dropout: Option<&mut Dropout>) -> Result<Output> {
        let dropped = match dropout {
            Some(d) => d.apply(&features)?,
            None => features.clone(),
        };
        let logits = self.head.forward(&dropped)?;
        Ok(Output { features, logits })
    }
}

/// The tensor named `name`, or an error naming it.
fn tensor(weights: &Weights, name: &str) -> Result<Tensor> {
    (weights.get(name).cloned())
        .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))
}

/// The encoder of `shape` from its named weights (`encoder.weight_ih_l0`, ...).
pub(crate) fn encoder_from_weights(shape: &EncoderShape, weights: &Weights) -> Result<Encoder> {
    let mut layers = Vec::with_capacity(shape.num_layers);
    for layer in 0..shape.num_layers {
        let mut directions = Vec::new();
        for reverse in [false, true].into_iter().take(shape.num_directions()) {
            let part = |part| tensor(weights, &Role::recurrent(layer, reverse, part).name());
            directions.push(DirectionWeights {
                weight_ih: part(RecurrentPart::WeightIh)?,
                weight_hh: part(RecurrentPart::WeightHh)?,
                bias_ih: part(RecurrentPart::BiasIh)?,
                bias_hh: part(RecurrentPart::BiasHh)?,
            });
        }
        layers.push(directions);
    }
    Ok(Encoder::new(shape.cell, shape.hidden_size, layers))
}

/// Fresh weights, drawn from `rng` so that a seed fixes them. The recurrent and head weights
/// follow PyTorch's defaults (uniform in +-1/sqrt(fan)); word vectors start small and `[PAD]`
/// at zero. Bigram vectors start at zero: the network starts as the one without them (its other
/// weights drawn alike), and a bucket that training never meets adds nothing in prediction.
pub fn init_weights(config: &ModelConfig, rng: &mut StdRng, device: &Device) -> Result<Weights> {
    let shape = config.encoder_shape();
    let mut weights = Weights::new();
    for tensor in config.tensors() {
        let n: usize = tensor.shape.iter().product();
        let values = match tensor.role {
            Role::NgramEmbedding => vec![0.0; n],
            Role::HeadWeight | Role::HeadBias => uniform(rng, n, config.feature_size()),
            role => encoder_values(role, n, &shape, rng),
        };
        weights.insert(tensor.name, Tensor::from_vec(values, tensor.shape, device)?);
    }
    Ok(weights)
}

/// Fresh weights of the embedding and the encoder alone, drawn as [`init_weights`] draws them.
pub(crate) fn init_encoder(
    shape: &EncoderShape,
    rng: &mut StdRng,
    device: &Device,
) -> Result<Weights> {
    let mut weights = Weights::new();
    for tensor in shape.tensors() {
        let n: usize = tensor.shape.iter().product();
        let values = encoder_values(tensor.role, n, shape, rng);
        weights.insert(tensor.name, Tensor::from_vec(values, tensor.shape, device)?);
    }
    Ok(weights)
}

/// `n` starting values of an embedding or encoder tensor.
fn encoder_values(role: Role, n: usize, shape: &EncoderShape, rng: &mut StdRng) -> Vec<f32> {
    match role {
        Role::Embedding => {
            let normal = Normal::new(0.0f32, 0.1).expect("valid normal");
            let dim = shape.embedding_dim;
            (0..n)
                .map(|i| {
                    if i / dim == PAD_ID as usize {
                        0.0
                    } else {
                        normal.sample(rng)
                    }
                })
                .collect()
        }
        Role::Recurrent { part, .. } => {
            let mut v = uniform(rng, n, shape.hidden_size);
            // A forget-gate bias of 1 lets gradients through long texts from the first step.
            if shape.cell == Cell::Lstm && part == RecurrentPart::BiasIh {
                let h = shape.hidden_size;
                v[h..2 * h].iter_mut().for_each(|x| *x = 1.0);
            }
            v
        }
        Role::NgramEmbedding | Role::HeadWeight | Role::HeadBias => {
            unreachable!("the bigram table and the head are not part of the encoder")
        }
    }
}

/// `n` values uniform in +-1/sqrt(fan).
pub(crate) fn uniform(rng: &mut StdRng, n: usize, fan: usize) -> Vec<f32> {
    let bound = 1.0 / (fan as f32).sqrt();
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

/// Copies every tensor into fresh storage (a snapshot that later updates do not touch).
pub fn snapshot(weights: &Weights) -> Result<Weights> {
    weights
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.detach().copy()?.to_dtype(DType::F32)?)))
        .collect()
}
