//! What each objective adds to the encoder, and the predictions it makes on a batch.
//!
//! Both objectives predict words through the word vectors themselves (the output layer is tied
//! to the embedding table): a state is projected to the embedding's width, scored against word
//! vectors, plus a bias per word. Tying halves the parameters a 30k-word vocabulary costs, and
//! every prediction trains the vectors the classifier will read.
//!
//! `lm`: forward states at step t predict token t + 1; with a bidirectional encoder the
//! backward states at step t predict token t - 1 (ELMo's two directions), each direction
//! through its own projection.
//!
//! `autoencoder` (SA-LSTM): the encoder reads the window; a decoder, one layer of the same cell
//! with the width of one encoder direction, regenerates it with teacher forcing: at step t it
//! reads token t - 1 (nothing at the first step) beside the encoder's final state (both
//! directions joined), and predicts token t. The final state is fed at every step rather than
//! as the decoder's starting state: the recurrent kernel starts every text from zero states,
//! and a summary read at every step does not fade over hundreds of steps (Cho et al. 2014
//! condition their decoder the same way). The decoder is one layer and as wide as one
//! encoder direction because it is thrown away after pretraining: it only has to be strong
//! enough that the final state must carry the text.

use super::config::Objective;
use crate::config::{Cell, EncoderShape, RecurrentPart};
use crate::dropout::Dropout;
use crate::encoder::{DirectionWeights, Encoder, Steps};
use crate::model::{uniform, Weights};
use candle_core::{DType, Device, Result, Tensor, D};
use rand::rngs::StdRng;

/// One tensor an objective adds, with its name and shape.
struct Extra {
    name: String,
    shape: Vec<usize>,
    init: Init,
}

#[derive(Clone, Copy)]
enum Init {
    /// Uniform in +-1/sqrt(fan), PyTorch's default for nn.Linear and recurrent layers.
    Uniform {
        fan: usize,
    },
    /// As `Uniform`, with an LSTM's forget-gate bias at 1 (as the encoder starts).
    ForgetBias {
        fan: usize,
    },
    Zeros,
}

/// Names of the objective's tensors. Spelled here and nowhere else in Rust: PyTorch's
/// state_dict keys of an `lm` module (`projection`, `projection_reverse` as nn.Linear,
/// `output_bias` as a parameter) or an `autoencoder` module (`decoder` as nn.LSTM / nn.GRU /
/// nn.RNN, `projection`, `output_bias`).
pub mod names {
    pub const LM_PROJECTION: &str = "lm.projection";
    pub const LM_PROJECTION_REVERSE: &str = "lm.projection_reverse";
    pub const LM_OUTPUT_BIAS: &str = "lm.output_bias";
    pub const DECODER: &str = "autoencoder.decoder";
    pub const DECODER_PROJECTION: &str = "autoencoder.projection";
    pub const DECODER_OUTPUT_BIAS: &str = "autoencoder.output_bias";
}

fn extras(objective: Objective, shape: &EncoderShape) -> Vec<Extra> {
    let (e, h, v) = (shape.embedding_dim, shape.hidden_size, shape.vocab_size);
    let tensor = |name: String, shape: Vec<usize>, init| Extra { name, shape, init };
    let projection = |prefix: &str| {
        [
            tensor(
                format!("{prefix}.weight"),
                vec![e, h],
                Init::Uniform { fan: h },
            ),
            tensor(format!("{prefix}.bias"), vec![e], Init::Uniform { fan: h }),
        ]
    };
    let mut out = Vec::new();
    match objective {
        Objective::Lm => {
            out.extend(projection(names::LM_PROJECTION));
            if shape.bidirectional {
                out.extend(projection(names::LM_PROJECTION_REVERSE));
            }
            out.push(tensor(names::LM_OUTPUT_BIAS.into(), vec![v], Init::Zeros));
        }
        Objective::Autoencoder => {
            let (gates, input) = (shape.cell.gates() * h, e + shape.state_size());
            let fan = Init::Uniform { fan: h };
            for part in RecurrentPart::ALL {
                let (dims, init) = match part {
                    RecurrentPart::WeightIh => (vec![gates, input], fan),
                    RecurrentPart::WeightHh => (vec![gates, h], fan),
                    RecurrentPart::BiasIh if shape.cell == Cell::Lstm => {
                        (vec![gates], Init::ForgetBias { fan: h })
                    }
                    RecurrentPart::BiasIh | RecurrentPart::BiasHh => (vec![gates], fan),
                };
                out.push(tensor(decoder_name(part), dims, init));
            }
            out.extend(projection(names::DECODER_PROJECTION));
            out.push(tensor(
                names::DECODER_OUTPUT_BIAS.into(),
                vec![v],
                Init::Zeros,
            ));
        }
    }
    out
}

/// `autoencoder.decoder.weight_ih_l0` and the like.
fn decoder_name(part: RecurrentPart) -> String {
    let encoder_name = crate::config::Role::recurrent(0, false, part).name();
    let stem = encoder_name.trim_start_matches("encoder.");
    format!("{}.{stem}", names::DECODER)
}

/// The name and shape of every tensor the objective adds, in PyTorch's state_dict order.
pub fn tensors(objective: Objective, shape: &EncoderShape) -> Vec<(String, Vec<usize>)> {
    (extras(objective, shape).into_iter())
        .map(|x| (x.name, x.shape))
        .collect()
}

/// Fresh values of the objective's tensors, drawn from `rng` after the encoder's.
pub(super) fn init(
    objective: Objective,
    shape: &EncoderShape,
    rng: &mut StdRng,
    device: &Device,
) -> Result<Weights> {
    let mut weights = Weights::new();
    for x in extras(objective, shape) {
        let n: usize = x.shape.iter().product();
        let values = match x.init {
            Init::Uniform { fan } => uniform(rng, n, fan),
            Init::ForgetBias { fan } => {
                let mut v = uniform(rng, n, fan);
                let h = shape.hidden_size;
                v[h..2 * h].iter_mut().for_each(|x| *x = 1.0);
                v
            }
            Init::Zeros => vec![0.0; n],
        };
        weights.insert(x.name, Tensor::from_vec(values, x.shape, device)?);
    }
    Ok(weights)
}

/// A linear map, PyTorch's nn.Linear: weight (out, in).
pub(super) struct Projection {
    weight: Tensor,
    bias: Tensor,
}

impl Projection {
    fn new(weights: &Weights, prefix: &str) -> Result<Self> {
        Ok(Self {
            weight: get(weights, &format!("{prefix}.weight"))?,
            bias: get(weights, &format!("{prefix}.bias"))?,
        })
    }

    /// (n, in) -> (n, out)
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        xs.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

fn get(weights: &Weights, name: &str) -> Result<Tensor> {
    (weights.get(name).cloned())
        .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))
}

/// An objective's network on top of the encoder: what turns states into predictions.
pub(super) enum Head {
    Lm {
        forward: Projection,
        backward: Option<Projection>,
        bias: Tensor,
    },
    Autoencoder {
        decoder: Encoder,
        projection: Projection,
        bias: Tensor,
    },
}

/// A batch's predictions: vectors (n, embedding dim) to score against the word vectors, and
/// for each the position (in the batch's flat (time, batch) order) of the token it predicts.
pub(super) struct Predictions {
    pub z: Tensor,
    pub targets: Vec<usize>,
}

impl Head {
    /// The objective's network over `weights` (which share storage with the trained ones).
    pub fn new(objective: Objective, shape: &EncoderShape, weights: &Weights) -> Result<Self> {
        Ok(match objective {
            Objective::Lm => Head::Lm {
                forward: Projection::new(weights, names::LM_PROJECTION)?,
                backward: (shape.bidirectional)
                    .then(|| Projection::new(weights, names::LM_PROJECTION_REVERSE))
                    .transpose()?,
                bias: get(weights, names::LM_OUTPUT_BIAS)?,
            },
            Objective::Autoencoder => {
                let part = |p| get(weights, &decoder_name(p));
                let layer = DirectionWeights {
                    weight_ih: part(RecurrentPart::WeightIh)?,
                    weight_hh: part(RecurrentPart::WeightHh)?,
                    bias_ih: part(RecurrentPart::BiasIh)?,
                    bias_hh: part(RecurrentPart::BiasHh)?,
                };
                Head::Autoencoder {
                    decoder: Encoder::new(shape.cell, shape.hidden_size, vec![vec![layer]]),
                    projection: Projection::new(weights, names::DECODER_PROJECTION)?,
                    bias: get(weights, names::DECODER_OUTPUT_BIAS)?,
                }
            }
        })
    }

    /// The output layer's bias over the vocabulary.
    pub fn bias(&self) -> &Tensor {
        match self {
            Head::Lm { bias, .. } | Head::Autoencoder { bias, .. } => bias,
        }
    }

    /// The predictions on word vectors `xs` (time, batch, dim) of texts of `steps`' lengths.
    pub fn predict(
        &self,
        encoder: &Encoder,
        xs: &Tensor,
        steps: &Steps,
        mut dropout: Option<&mut Dropout>,
    ) -> Result<Predictions> {
        let (time, batch, _) = xs.dims3()?;
        let lengths = steps.lengths();
        let xs = match dropout.as_deref_mut() {
            Some(d) => d.apply_embedding(xs)?,
            None => xs.clone(),
        };
        // Flat (time * batch) positions of step t of text b.
        let at = |t: usize, b: usize| t * batch + b;
        // The states at the `from` positions of `rows`, which predict the tokens at `to`.
        let select = |states: &Tensor, rows: Vec<(usize, usize)>| {
            let width = states.dim(D::Minus1)?;
            let index: Vec<u32> = rows.iter().map(|&(from, _)| from as u32).collect();
            let index = Tensor::new(index.as_slice(), states.device())?;
            let picked = states
                .reshape((time * batch, width))?
                .index_select(&index, 0)?;
            let targets: Vec<usize> = rows.iter().map(|&(_, to)| to).collect();
            Ok::<_, candle_core::Error>((picked, targets))
        };
        let mut parts: Vec<(Tensor, Vec<usize>, &Projection)> = Vec::new();
        match self {
            Head::Lm {
                forward, backward, ..
            } => {
                let states = encoder.every_step(&xs, steps, dropout.as_deref_mut())?;
                let ahead = (0..batch).flat_map(|b| {
                    (0..lengths[b].saturating_sub(1)).map(move |t| (at(t, b), at(t + 1, b)))
                });
                let (picked, targets) = select(&states[0], ahead.collect())?;
                parts.push((picked, targets, forward));
                if let (Some(backward), Some(states)) = (backward, states.get(1)) {
                    let behind = (0..batch)
                        .flat_map(|b| (1..lengths[b]).map(move |t| (at(t, b), at(t - 1, b))));
                    let (picked, targets) = select(states, behind.collect())?;
                    parts.push((picked, targets, backward));
                }
            }
            Head::Autoencoder {
                decoder,
                projection,
                ..
            } => {
                let code = encoder.forward(&xs, steps, dropout.as_deref_mut())?; // (batch, state)
                let dim = xs.dim(2)?;
                let start = Tensor::zeros((1, batch, dim), DType::F32, xs.device())?;
                let previous = if time > 1 {
                    Tensor::cat(&[&start, &xs.narrow(0, 0, time - 1)?], 0)?
                } else {
                    start
                };
                let code = code
                    .unsqueeze(0)?
                    .broadcast_as((time, batch, code.dim(1)?))?;
                let input = Tensor::cat(&[&previous, &code.contiguous()?], 2)?;
                let states = &decoder.every_step(&input, steps, None)?[0];
                let rows =
                    (0..batch).flat_map(|b| (0..lengths[b]).map(move |t| (at(t, b), at(t, b))));
                let (picked, targets) = select(states, rows.collect())?;
                parts.push((picked, targets, projection));
            }
        }
        let mut z = Vec::with_capacity(parts.len());
        let mut targets = Vec::new();
        for (picked, to, projection) in parts {
            let picked = match dropout.as_deref_mut() {
                Some(d) => d.apply(&picked)?,
                None => picked,
            };
            z.push(projection.forward(&picked)?);
            targets.extend(to);
        }
        Ok(Predictions {
            z: Tensor::cat(&z, 0)?,
            targets,
        })
    }
}
