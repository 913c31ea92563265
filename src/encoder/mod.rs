//! The recurrent encoder: lstm, gru or rnn, stacked and optionally bidirectional, over padded batches.
//!
//! candle-nn's LSTM steps over every position, padding included, and only forwards. Here each
//! text's state stops changing after its own last token (so padding never changes a result), and
//! the backward direction reads each text from its own last token to its first, as PyTorch's
//! `pack_padded_sequence` does.
//!
//! Two implementations compute the same thing: in f32 on the CPU or a CUDA GPU a fused kernel
//! (`fused`: one product for the input side of all steps, then the recurrence as one custom op
//! with its own backward; on the CPU each batch's texts split across rayon's threads by
//! `parts`, on a GPU the op's CUDA side in `cuda`), elsewhere plain candle ops step by step
//! (`reference`). Prediction with a model whose weights no longer change
//! ([`Encoder::predict`]) also keeps, from call to call, the weights laid out for the kernel and
//! the first layer's input side per word, and per bigram bucket where the model has them
//! (`projection`).
//!
//! The last layer hands on each text's final states, or with a [`Pooling`] other than the
//! default every step's states, which `pooling` turns into what the head reads.
//!
//! Inside the fused kernel: `layer` runs one layer and direction on slices, `recurrence` its
//! steps, `cells` each cell's gate math (compiled per vector width by `simd`), and `products`
//! the matrix products (gemm, 64-column panels, bfloat16).

mod activation;
mod cells;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
mod direction;
mod fused;
mod layer;
mod max_steps;
mod parts;
mod pooling;
// The products are public through `crate::kernel`, for benches/step_product.
pub(crate) mod products;
mod projection;
mod recurrence;
mod reference;
pub(crate) mod simd;
mod steps;
mod workspace;

pub(crate) use activation::exp;
pub use direction::DirectionWeights;
pub(crate) use fused::with_slice;
pub use pooling::Pooling;
pub use steps::{padded_time, Steps};

use crate::config::Cell;
use crate::dropout::Dropout;
use candle_core::{DType, Result, Tensor, D};
use fused::{PredictInput, PreparedCache};
use parts::States;
use projection::WordProjections;
use std::sync::OnceLock;

/// A stack of recurrent layers; `layers[l][d]` holds layer l, direction d (1 = reverse).
#[derive(Debug, Clone)]
pub struct Encoder {
    cell: Cell,
    hidden: usize,
    layers: Vec<Vec<DirectionWeights>>,
    kernel: Kernel,
    pooling: Pooling,
}

/// Which implementation runs the recurrence. Both give the same values and gradients (to float
/// rounding); the choice is about speed, and about having a reference to test against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernel {
    /// The fused kernel for f32 tensors on the CPU or a CUDA GPU, the reference for everything
    /// else. Setting `LSTM_SENTIMENT_KERNEL=reference` in the environment turns the fused kernel
    /// off, so that the two can be timed against each other with the same binary.
    #[default]
    Auto,
    /// Plain candle ops, one step at a time.
    Reference,
    /// As `Auto`, except that calls with nothing to differentiate (prediction) multiply in
    /// bfloat16 with float32 sums, on CPUs with AVX512-BF16 (elsewhere it is `Auto`). Training
    /// is unchanged.
    Bf16,
}

impl Kernel {
    /// Where a layer over `time` steps of `xs` (the input itself, or the embedding it is looked
    /// up in) with `weights` runs.
    fn path(self, xs: &Tensor, time: usize, weights: &DirectionWeights) -> Path {
        static OFF: OnceLock<bool> = OnceLock::new();
        let off = *OFF.get_or_init(|| {
            std::env::var("LSTM_SENTIMENT_KERNEL")
                .is_ok_and(|v| v.eq_ignore_ascii_case("reference"))
        });
        let w = weights;
        let tensors = [xs, &w.weight_ih, &w.weight_hh, &w.bias_ih, &w.bias_hh];
        let all_f32 = tensors.iter().all(|t| t.dtype() == DType::F32);
        // Zero steps leave no last step to read the final state from.
        if !matches!(self, Kernel::Auto | Kernel::Bf16) || off || !all_f32 || time == 0 {
            return Path::Reference;
        }
        if tensors.iter().all(|t| t.device().is_cpu()) {
            return Path::Cpu;
        }
        // The GPU's kernels take at least one text (xs is (time, batch, input) there).
        let texts = xs.dims().get(1).is_some_and(|&batch| batch > 0);
        match tensors.iter().all(|t| t.device().is_cuda()) && texts {
            true => Path::Cuda,
            false => Path::Reference,
        }
    }
}

/// Where the recurrence runs: see [`Kernel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Reference,
    /// The fused kernel on the CPU, which also reads words and keeps what prediction reuses.
    Cpu,
    /// The fused kernel's op on a CUDA GPU.
    Cuda,
}

/// Whether this CPU multiplies in bfloat16 ([`Kernel::Bf16`]).
pub fn bf16_available() -> bool {
    products::bf16::available()
}

impl Encoder {
    pub fn new(cell: Cell, hidden: usize, layers: Vec<Vec<DirectionWeights>>) -> Self {
        Self {
            cell,
            hidden,
            layers,
            kernel: Kernel::Auto,
            pooling: Pooling::Last,
        }
    }

    /// The same encoder handing on what `pooling` makes of the last layer's states.
    pub fn with_pooling(mut self, pooling: Pooling) -> Self {
        self.pooling = pooling;
        self
    }

    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// What [`predict`](Self::predict) keeps from call to call, with room for up to
    /// `word_bytes` of word rows over `vocab` words. Only for weights that no longer change.
    pub fn predict_cache(&self, vocab: usize, word_bytes: usize) -> PredictCache {
        let (width, directions) = self.row_shape();
        PredictCache {
            words: WordProjections::new(vocab, width, directions, word_bytes),
            ngrams: None,
            layers: (self.layers.iter())
                .map(|layer| layer.iter().map(|_| PreparedCache::default()).collect())
                .collect(),
        }
    }

    /// As [`predict_cache`](Self::predict_cache) for words with hashed bigrams of `buckets`
    /// buckets: `bytes` in all, up to half of it for words and the rest for buckets.
    pub fn predict_cache_with_ngrams(
        &self,
        vocab: usize,
        buckets: usize,
        bytes: usize,
    ) -> PredictCache {
        let (width, directions) = self.row_shape();
        let mut cache = self.predict_cache(vocab, bytes / 2);
        let left = bytes - cache.words.max_bytes();
        cache.ngrams = Some(WordProjections::hashed(buckets, width, directions, left));
        cache
    }

    /// The width of a first-layer row and the number of directions.
    fn row_shape(&self) -> (usize, usize) {
        let width = self.cell.gates() * self.hidden;
        (width, self.layers.first().map_or(0, Vec::len))
    }

    /// Whether [`predict`](Self::predict) runs on words of `embedding` over `time` steps:
    /// where the fused kernel runs the first layer (the CPU, f32, the reference kernel not
    /// asked for).
    pub fn reads_words(&self, embedding: &Tensor, time: usize) -> bool {
        let first = self.layers.first().map_or(&[][..], Vec::as_slice);
        !first.is_empty()
            && (first.iter()).all(|w| self.kernel.path(embedding, time, w) == Path::Cpu)
    }

    /// xs (time, batch, input) -> final states (batch, directions * hidden): for each text the
    /// forward state after its last token, then the backward state after its first; or what
    /// the encoder's [`Pooling`] makes of the last layer's states, (batch, width * directions *
    /// hidden).
    pub fn forward(
        &self,
        xs: &Tensor,
        steps: &Steps,
        dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        self.run(Read::Vectors(xs), None, steps, dropout)
    }

    /// As [`forward`](Self::forward) on words, `ids` (time, batch) of `embedding`, for
    /// prediction: no gradients, and what `cache` keeps is used and added to (each layer's
    /// weights laid out for the kernel, the first layer's word rows). Only where
    /// [`reads_words`](Self::reads_words).
    pub fn predict(
        &self,
        ids: &[u32],
        embedding: &Tensor,
        steps: &Steps,
        cache: &PredictCache,
    ) -> Result<Tensor> {
        let words = WordInput {
            ids,
            embedding,
            ngrams: None,
        };
        self.predict_words(words, steps, cache)
    }

    /// As [`predict`](Self::predict), with hashed bigrams where `words` has them; `cache`
    /// must then come from [`predict_cache_with_ngrams`](Self::predict_cache_with_ngrams).
    pub fn predict_words(
        &self,
        words: WordInput,
        steps: &Steps,
        cache: &PredictCache,
    ) -> Result<Tensor> {
        if words.ngrams.is_some() && cache.ngrams.is_none() {
            candle_core::bail!("bigram buckets read with a cache made for words alone");
        }
        self.run(Read::Words(words), Some(cache), steps, None)
    }

    /// The last layer's states at every step, one (time, batch, hidden) tensor per direction,
    /// forward then backward, each in the texts' own order: what a language model reads. Past
    /// a text's length the values are not meaningful. The directions stay apart because each
    /// predicts its own tokens, so the caller reads them one at a time.
    pub fn every_step(
        &self,
        xs: &Tensor,
        steps: &Steps,
        dropout: Option<&mut Dropout>,
    ) -> Result<Vec<Tensor>> {
        let (_, every) = self.layers(Read::Vectors(xs), None, steps, dropout, Some(Order::Text))?;
        Ok(every)
    }

    /// Every layer, then what the encoder's [`Pooling`] makes of the last one.
    fn run(
        &self,
        first: Read,
        cache: Option<&PredictCache>,
        steps: &Steps,
        dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        // A pooling reads each text's steps as a set, so the backward direction's states stay
        // in its own order: reversing a text within its length keeps it within its length.
        let every_step = (self.pooling.reads_every_step()).then_some(Order::Direction);
        let (finals, outputs) = self.layers(first, cache, steps, dropout, every_step)?;
        let finals = || Tensor::cat(&finals, D::Minus1);
        if every_step.is_none() {
            return finals();
        }
        let lengths = steps.lengths();
        if matches!(self.pooling, Pooling::Max | Pooling::LastMax)
            && outputs.iter().all(max_steps::runs)
        {
            // Each direction on its own, joined as the final states are.
            let maxes: Vec<Tensor> = (outputs.iter())
                .map(|o| max_steps::max_over_steps(o, lengths))
                .collect::<Result<_>>()?;
            let max = Tensor::cat(&maxes, D::Minus1)?;
            return match self.pooling {
                Pooling::LastMax => Tensor::cat(&[finals()?, max], D::Minus1),
                _ => Ok(max),
            };
        }
        let every = Tensor::cat(&outputs, D::Minus1)?;
        pooling::pool(self.pooling, finals, &every, lengths)
    }

    /// Every layer, the first reading `first`, the others the outputs below them: the last
    /// layer's final states per direction and, with `every_step`, its states at every step.
    fn layers(
        &self,
        first: Read,
        cache: Option<&PredictCache>,
        steps: &Steps,
        mut dropout: Option<&mut Dropout>,
        every_step: Option<Order>,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let mut below: Option<Tensor> = None;
        let mut finals = Vec::new();
        let mut outputs = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            let last = l + 1 == self.layers.len();
            let (states, order) = match every_step {
                None if last => (States::Final, Order::Text),
                Some(order) if last => (States::EveryStep, order),
                _ => (States::EveryStep, Order::Text),
            };
            finals.clear();
            outputs.clear();
            for (d, weights) in layer.iter().enumerate() {
                let read = below.as_ref().map_or(first, Read::Vectors);
                let (h, every) =
                    self.direction((l, d), weights, read, cache, steps, (states, order))?;
                finals.push(h);
                outputs.extend(every);
            }
            if !last {
                let mut next = Tensor::cat(&outputs, D::Minus1)?;
                if let Some(d) = dropout.as_deref_mut() {
                    next = d.apply(&next)?;
                }
                below = Some(next);
            }
        }
        Ok((finals, outputs))
    }

    /// Layer l, direction d over `read`: the final states and, with [`States::EveryStep`],
    /// every step's, in `order`.
    fn direction(
        &self,
        (l, d): (usize, usize),
        weights: &DirectionWeights,
        read: Read,
        cache: Option<&PredictCache>,
        steps: &Steps,
        (states, order): (States, Order),
    ) -> Result<(Tensor, Option<Tensor>)> {
        let reverse = d == 1;
        let (cell, bf16, lengths) = (self.cell, self.kernel == Kernel::Bf16, steps.lengths());
        let ran = match read {
            Read::Words(words) => {
                let cache = cache.expect("words are read with a cache");
                // In the direction's order.
                let order = |ids: &[u32]| match reverse {
                    true => steps.reverse_ids(ids),
                    false => ids.to_vec(),
                };
                let ids = order(words.ids);
                let buckets = words.ngrams.map(|(buckets, _)| order(buckets));
                let ngrams = (buckets.as_deref().zip(cache.ngrams.as_ref()))
                    .zip(words.ngrams)
                    .map(|((ids, table), (_, embedding))| (ids, table, embedding));
                let x = PredictInput::Words {
                    ids: &ids,
                    time: steps.masks.len(),
                    table: &cache.words,
                    dir: d,
                    embedding: words.embedding,
                    ngrams,
                };
                fused::predict(cell, weights, x, &cache.layers[l][d], lengths, bf16, states)?
            }
            Read::Vectors(xs) => {
                let xin = if reverse {
                    steps.reverse(xs)?
                } else {
                    xs.clone()
                };
                match (self.kernel.path(&xin, xin.dim(0)?, weights), cache) {
                    (Path::Reference, _) => {
                        let every_step = states == States::EveryStep;
                        let (h, outs) =
                            reference::run(cell, self.hidden, weights, &xin, steps, every_step)?;
                        let back = reverse && order == Order::Text;
                        let outs = outs.map(|o| if back { steps.reverse(&o) } else { Ok(o) });
                        return Ok((h, outs.transpose()?));
                    }
                    (Path::Cpu, Some(cache)) => {
                        let (x, prepared) = (PredictInput::Vectors(&xin), &cache.layers[l][d]);
                        fused::predict(cell, weights, x, prepared, lengths, bf16, states)?
                    }
                    _ => fused::run(cell, weights, &xin, lengths, bf16, states)?,
                }
            }
        };
        match states {
            States::Final => Ok((ran, None)),
            // The last step holds every text's final state.
            States::EveryStep => {
                let h = ran.get(ran.dim(0)? - 1)?;
                let back = reverse && order == Order::Text;
                Ok((h, Some(if back { steps.reverse(&ran)? } else { ran })))
            }
        }
    }
}

/// The order of the backward direction's states at every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// The texts' own: step t of each text, as the forward direction's.
    Text,
    /// The direction's own: step t is each text's t-th token from its end. Padding stays put.
    Direction,
}

/// What a layer reads.
#[derive(Clone, Copy)]
enum Read<'a> {
    /// Vectors (time, batch, input).
    Vectors(&'a Tensor),
    /// The first layer's words.
    Words(WordInput<'a>),
}

/// The first layer's input for [`Encoder::predict_words`]: ids (time, batch) of an
/// embedding, and with hashed bigrams their buckets (time, batch) of the bigram table; the
/// vector at a position is the word's plus the bucket's.
#[derive(Clone, Copy)]
pub struct WordInput<'a> {
    pub ids: &'a [u32],
    pub embedding: &'a Tensor,
    pub ngrams: Option<(&'a [u32], &'a Tensor)>,
}

/// What [`Encoder::predict`] keeps from call to call: each layer and direction's weights laid
/// out for the kernel, and the first layer's word rows (and bucket rows, with bigrams). Shared
/// by clones of a model.
pub struct PredictCache {
    words: WordProjections,
    ngrams: Option<WordProjections>,
    /// [layer][direction]
    layers: Vec<Vec<PreparedCache>>,
}

impl std::fmt::Debug for PredictCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PredictCache")
            .field("words", &self.words)
            .field("ngrams", &self.ngrams)
            .finish()
    }
}

#[cfg(all(test, feature = "cuda"))]
mod cuda_path {
    use super::{DirectionWeights, Kernel, Path};
    use candle_core::{DType, Tensor};

    /// Needs a GPU; says it is skipped where there is none.
    #[test]
    fn f32_tensors_on_a_gpu_take_the_fused_kernel() {
        let Some(gpu) = crate::device::test_gpu(module_path!()) else {
            return;
        };
        let (hidden, input, batch, time) = (3, 4, 2, 5);
        let zeros = |shape: &[usize], dtype| Tensor::zeros(shape, dtype, &gpu).unwrap();
        let weights = |dtype| DirectionWeights {
            weight_ih: zeros(&[4 * hidden, input], dtype),
            weight_hh: zeros(&[4 * hidden, hidden], dtype),
            bias_ih: zeros(&[4 * hidden], dtype),
            bias_hh: zeros(&[4 * hidden], dtype),
        };
        let (xs, w) = (
            zeros(&[time, batch, input], DType::F32),
            weights(DType::F32),
        );
        assert_eq!(Kernel::Auto.path(&xs, time, &w), Path::Cuda);
        assert_eq!(Kernel::Bf16.path(&xs, time, &w), Path::Cuda);
        assert_eq!(Kernel::Reference.path(&xs, time, &w), Path::Reference);
        let no_texts = zeros(&[time, 0, input], DType::F32);
        assert_eq!(Kernel::Auto.path(&no_texts, time, &w), Path::Reference);
        let (xs, w) = (
            zeros(&[time, batch, input], DType::BF16),
            weights(DType::BF16),
        );
        assert_eq!(Kernel::Auto.path(&xs, time, &w), Path::Reference);
    }
}
