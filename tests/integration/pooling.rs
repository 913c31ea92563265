//! Every pooling of the last layer's states ([`Pooling`]), on every cell: gradients that match
//! finite differences (float64, where the plain candle path runs), the fused kernel against
//! that plain path (float32: the same features and gradients, with the batch split across
//! threads too, and for prediction from words), padding that never counts, and empty texts that
//! pool to zeros.

use crate::common::max_diff;
use candle_core::{DType, Device, Tensor, Var};
use lstm_sentiment::encoder::{padded_time, DirectionWeights, Encoder, Kernel, Pooling, Steps};
use lstm_sentiment::Cell;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CELLS: [Cell; 3] = [Cell::Lstm, Cell::Gru, Cell::Rnn];

#[derive(Debug, Clone, Copy)]
struct Net {
    cell: Cell,
    layers: usize,
    bidirectional: bool,
    input: usize,
    hidden: usize,
}

impl Net {
    fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// The shapes of every weight, layer by layer and direction by direction, in PyTorch's
    /// order (weight_ih, weight_hh, bias_ih, bias_hh).
    fn weight_shapes(&self) -> Vec<Vec<usize>> {
        let gates = self.cell.gates() * self.hidden;
        let mut shapes = Vec::new();
        for l in 0..self.layers {
            let input = if l == 0 {
                self.input
            } else {
                self.directions() * self.hidden
            };
            for _ in 0..self.directions() {
                shapes.extend([
                    vec![gates, input],
                    vec![gates, self.hidden],
                    vec![gates],
                    vec![gates],
                ]);
            }
        }
        shapes
    }
}

/// Host values of the weights and of the input xs (the last entry), and a random read-out of
/// the features so that every feature gets its own gradient.
struct Problem {
    net: Net,
    lengths: Vec<usize>,
    shapes: Vec<Vec<usize>>,
    values: Vec<Vec<f64>>,
    readout: Vec<f64>,
}

impl Problem {
    fn new(net: Net, pooling: Pooling, lengths: &[usize], seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let (time, batch) = (padded_time(lengths), lengths.len());
        let mut shapes = net.weight_shapes();
        shapes.push(vec![time, batch, net.input]);
        // Weights of about PyTorch's initial scale or larger, so that gates also saturate.
        let values = (shapes.iter())
            .map(|s| {
                let n: usize = s.iter().product();
                (0..n).map(|_| rng.random_range(-0.9..0.9)).collect()
            })
            .collect();
        let width = pooling.width() * net.directions() * net.hidden;
        let readout = (0..batch * width)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        Self {
            net,
            lengths: lengths.to_vec(),
            shapes,
            values,
            readout,
        }
    }

    /// The features, the loss sum(features * readout) and its gradient for every tensor
    /// (zeros for one that the loss does not reach), in `dtype` on `kernel`.
    fn run(&self, pooling: Pooling, kernel: Kernel, dtype: DType) -> (Tensor, f64, Vec<Vec<f64>>) {
        let dev = Device::Cpu;
        let vars: Vec<Var> = (self.values.iter().zip(&self.shapes))
            .map(|(v, s)| {
                let t = Tensor::from_vec(v.clone(), s.as_slice(), &dev).unwrap();
                Var::from_tensor(&t.to_dtype(dtype).unwrap()).unwrap()
            })
            .collect();
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let (xs, weights) = tensors.split_last().unwrap();
        let encoder = self.encoder(weights, pooling).with_kernel(kernel);
        let steps = Steps::new(&self.lengths, xs.dim(0).unwrap(), &dev).unwrap();
        let features = encoder.forward(xs, &steps, None).unwrap();
        let readout = Tensor::from_vec(self.readout.clone(), features.shape(), &dev).unwrap();
        let loss = (features.to_dtype(DType::F64).unwrap())
            .mul(&readout)
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let grads = (vars.iter())
            .map(|v| match grads.get(v.as_tensor()) {
                Some(g) => host(g),
                None => vec![0.0; v.elem_count()],
            })
            .collect();
        (features, loss.to_scalar::<f64>().unwrap(), grads)
    }

    /// The encoder over `weights`, tensors of the shapes of the weights' values.
    fn encoder(&self, weights: &[Tensor], pooling: Pooling) -> Encoder {
        let layers = (weights.chunks(4 * self.net.directions()))
            .map(|layer| {
                (layer.chunks(4))
                    .map(|w| DirectionWeights {
                        weight_ih: w[0].clone(),
                        weight_hh: w[1].clone(),
                        bias_ih: w[2].clone(),
                        bias_hh: w[3].clone(),
                    })
                    .collect()
            })
            .collect();
        Encoder::new(self.net.cell, self.net.hidden, layers).with_pooling(pooling)
    }

    fn what(&self, pooling: Pooling) -> String {
        let n = &self.net;
        format!(
            "{} pooling={pooling} layers={} bi={} lengths={:?}",
            n.cell, n.layers, n.bidirectional, self.lengths
        )
    }
}

fn host(t: &Tensor) -> Vec<f64> {
    let t = t.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
    t.to_vec1::<f64>().unwrap()
}

/// The gradient of every input value and of a few entries of each weight, against central
/// differences of the float64 loss.
fn check_finite_differences(net: Net, pooling: Pooling, lengths: &[usize], seed: u64) {
    let mut problem = Problem::new(net, pooling, lengths, seed);
    let what = problem.what(pooling);
    let (_, _, grads) = problem.run(pooling, Kernel::Reference, DType::F64);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let eps = 1e-5;
    let input = problem.values.len() - 1;
    for (tensor, grad) in grads.iter().enumerate() {
        let n = grad.len();
        let entries: Vec<usize> = if tensor == input {
            (0..n).collect()
        } else {
            (0..3).map(|_| rng.random_range(0..n)).collect()
        };
        for i in entries {
            let kept = problem.values[tensor][i];
            problem.values[tensor][i] = kept + eps;
            let (_, up, _) = problem.run(pooling, Kernel::Reference, DType::F64);
            problem.values[tensor][i] = kept - eps;
            let (_, down, _) = problem.run(pooling, Kernel::Reference, DType::F64);
            problem.values[tensor][i] = kept;
            let numeric = (up - down) / (2.0 * eps);
            let analytic = grad[i];
            assert!(
                (numeric - analytic).abs() < 1e-6,
                "{what}: tensor {tensor} entry {i}: autograd {analytic}, finite differences {numeric}"
            );
        }
    }
}

/// The fused kernel (float32) against the plain candle path: features and every gradient.
fn check_against_reference(net: Net, pooling: Pooling, lengths: &[usize], seed: u64) {
    let problem = Problem::new(net, pooling, lengths, seed);
    let what = problem.what(pooling);
    let (fused, _, fused_grads) = problem.run(pooling, Kernel::Auto, DType::F32);
    let (reference, _, reference_grads) = problem.run(pooling, Kernel::Reference, DType::F32);
    let d = max_diff(&host(&fused), &host(&reference));
    assert!(d < 1e-5, "{what}: features differ by {d}");
    for (i, (f, r)) in fused_grads.iter().zip(&reference_grads).enumerate() {
        let d = max_diff(f, r);
        assert!(d < 1e-4, "{what}: gradient of tensor {i} differs by {d}");
    }
    let width = pooling.width() * net.directions() * net.hidden;
    assert_eq!(fused.dims(), [lengths.len(), width], "{what}");
    // An empty text pools to zeros, like its final state.
    for (b, &len) in lengths.iter().enumerate() {
        if len == 0 {
            let row = host(&fused.get(b).unwrap());
            assert!(
                row.iter().all(|&v| v == 0.0),
                "{what}: empty text {b}: {row:?}"
            );
        }
    }
}

fn nets() -> impl Iterator<Item = Net> {
    CELLS.into_iter().flat_map(|cell| {
        [(1, false), (2, true)].map(|(layers, bidirectional)| Net {
            cell,
            layers,
            bidirectional,
            input: 3,
            hidden: 4,
        })
    })
}

#[test]
fn gradients_match_finite_differences() {
    let mut seed = 0;
    for net in nets() {
        for pooling in Pooling::ALL {
            seed += 1;
            check_finite_differences(net, pooling, &[4, 1, 0, 3], seed);
        }
    }
}

#[test]
fn the_fused_kernel_pools_as_the_plain_path_does() {
    let mut seed = 100;
    for lengths in [&[3, 0, 5, 1, 5, 2][..], &[4, 4, 4], &[1], &[0, 0]] {
        for net in nets() {
            for pooling in Pooling::ALL {
                seed += 1;
                check_against_reference(net, pooling, lengths, seed);
            }
        }
    }
}

/// With texts enough for several parts, each part on its own thread pools its own texts.
#[test]
fn a_batch_split_across_threads_pools_the_same() {
    let mut rng = StdRng::seed_from_u64(9);
    let lengths: Vec<usize> = (0..37).map(|_| rng.random_range(0..=9)).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let mut seed = 200;
    for net in nets() {
        for pooling in Pooling::ALL {
            seed += 1;
            pool.install(|| check_against_reference(net, pooling, &lengths, seed));
        }
    }
}

/// A text's pooled vector is the same alone as among longer and shorter texts: padding steps,
/// which hold copies of the final state, never count.
#[test]
fn padding_never_counts() {
    let lengths = [6, 2, 0, 4];
    let mut seed = 300;
    for net in nets() {
        for pooling in Pooling::ALL {
            seed += 1;
            let batch = Problem::new(net, pooling, &lengths, seed);
            let (together, _, _) = batch.run(pooling, Kernel::Auto, DType::F32);
            let input = batch.values.len() - 1;
            for (b, &len) in lengths.iter().enumerate() {
                let mut alone = Problem::new(net, pooling, &[len], seed);
                alone.values[..input].clone_from_slice(&batch.values[..input]);
                // This text's column of xs, (time, 1, input), over its own steps only.
                let (time, cols, width) = (padded_time(&[len]), lengths.len(), net.input);
                alone.values[input] = (0..time)
                    .flat_map(|t| {
                        let row = (t * cols + b) * width;
                        batch.values[input][row..row + width].to_vec()
                    })
                    .collect();
                let (single, _, _) = alone.run(pooling, Kernel::Auto, DType::F32);
                let want = host(&together.get(b).unwrap());
                let d = max_diff(&host(&single.get(0).unwrap()), &want);
                assert!(
                    d < 1e-6,
                    "{}: text {b} alone differs by {d}",
                    batch.what(pooling)
                );
            }
        }
    }
}

/// Prediction from words (the first layer's word rows kept from call to call) pools as the
/// plain path does from the words' vectors.
#[test]
fn prediction_from_words_pools_the_same() {
    let (vocab, lengths) = (7, [5, 0, 2, 5, 1]);
    let (time, batch) = (padded_time(&lengths), lengths.len());
    let mut seed = 400;
    for net in nets() {
        for pooling in Pooling::ALL {
            seed += 1;
            let problem = Problem::new(net, pooling, &lengths, seed);
            let mut rng = StdRng::seed_from_u64(seed);
            let values: Vec<f32> = (0..vocab * net.input)
                .map(|_| rng.random_range(-1.5..1.5))
                .collect();
            let embedding = Tensor::from_vec(values, (vocab, net.input), &Device::Cpu).unwrap();
            let ids: Vec<u32> = (0..time * batch)
                .map(|_| rng.random_range(0..vocab as u32))
                .collect();
            let xs = embedding
                .index_select(&Tensor::new(ids.as_slice(), &Device::Cpu).unwrap(), 0)
                .unwrap()
                .reshape((time, batch, net.input))
                .unwrap();
            let weights: Vec<Tensor> = (problem.values.iter().zip(&problem.shapes))
                .take(problem.shapes.len() - 1)
                .map(|(v, s)| {
                    let t = Tensor::from_vec(v.clone(), s.as_slice(), &Device::Cpu).unwrap();
                    t.to_dtype(DType::F32).unwrap()
                })
                .collect();
            let encoder = problem.encoder(&weights, pooling);
            let steps = Steps::new(&lengths, time, &Device::Cpu).unwrap();
            let reference = encoder.clone().with_kernel(Kernel::Reference);
            let want = host(&reference.forward(&xs, &steps, None).unwrap());
            assert!(encoder.reads_words(&embedding, time));
            let cache = encoder.predict_cache(vocab, 1 << 20);
            for round in 0..2 {
                let got = encoder.predict(&ids, &embedding, &steps, &cache).unwrap();
                let d = max_diff(&host(&got), &want);
                let what = problem.what(pooling);
                assert!(d < 1e-5, "{what}: words, round {round}: differs by {d}");
            }
        }
    }
}
