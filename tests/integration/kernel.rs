//! The fused CPU kernel against the reference path (plain candle ops, step by step): the same
//! final states and the same gradients for the input and all four weight tensors of every
//! layer and direction, on every cell, with ragged, equal and empty lengths.

use crate::common::bf16_or_skip;
use candle_core::{DType, Device, Tensor, Var};
use lstm_sentiment::encoder::{padded_time, DirectionWeights, Encoder, Kernel, Steps};
use lstm_sentiment::Cell;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TOLERANCE: f64 = 1e-4;
/// Operands rounded to 8 significant bits: states move by up to a few hundredths, more with
/// these large random weights than with trained ones (scripts/model/bf16_agreement.py).
const BF16_TOLERANCE: f64 = 5e-2;

struct Case {
    cell: Cell,
    layers: usize,
    bidirectional: bool,
    input: usize,
    hidden: usize,
    lengths: Vec<usize>,
}

fn uniform(rng: &mut StdRng, shape: &[usize], scale: f32) -> Var {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
    Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu).unwrap()).unwrap()
}

fn detach(w: &DirectionWeights) -> DirectionWeights {
    DirectionWeights {
        weight_ih: w.weight_ih.detach(),
        weight_hh: w.weight_hh.detach(),
        bias_ih: w.bias_ih.detach(),
        bias_hh: w.bias_hh.detach(),
    }
}

/// The largest absolute difference between two tensors of the same shape.
fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims());
    let values = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    crate::common::max_diff(&values(a), &values(b))
}

/// Runs both paths on the same weights and input; panics with the case on any difference.
/// Returns the fused kernel's features and gradients.
fn check(case: &Case, seed: u64) -> (Tensor, Vec<Tensor>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let dirs = if case.bidirectional { 2 } else { 1 };
    let g = case.cell.gates() * case.hidden;
    // Weights of about PyTorch's initial scale or larger, so that gates also saturate.
    let mut vars = Vec::new();
    let mut layers = Vec::new();
    for l in 0..case.layers {
        let input = if l == 0 {
            case.input
        } else {
            dirs * case.hidden
        };
        let mut layer = Vec::new();
        for _ in 0..dirs {
            let w = [
                uniform(&mut rng, &[g, input], 0.8),
                uniform(&mut rng, &[g, case.hidden], 0.8),
                uniform(&mut rng, &[g], 0.5),
                uniform(&mut rng, &[g], 0.5),
            ];
            layer.push(DirectionWeights {
                weight_ih: w[0].as_tensor().clone(),
                weight_hh: w[1].as_tensor().clone(),
                bias_ih: w[2].as_tensor().clone(),
                bias_hh: w[3].as_tensor().clone(),
            });
            vars.extend(w);
        }
        layers.push(layer);
    }
    let batch = case.lengths.len();
    let time = padded_time(&case.lengths);
    let xs = uniform(&mut rng, &[time, batch, case.input], 1.5);
    vars.push(xs.clone());
    let steps = Steps::new(&case.lengths, time, &Device::Cpu).unwrap();
    // A random linear read-out, so that every feature gets its own gradient.
    let readout = uniform(&mut rng, &[batch, dirs * case.hidden], 1.0);

    let detached: Vec<Vec<DirectionWeights>> = layers
        .iter()
        .map(|layer| layer.iter().map(detach).collect())
        .collect();
    let encoder = Encoder::new(case.cell, case.hidden, layers);
    let run = |encoder: &Encoder| {
        let features = encoder.forward(xs.as_tensor(), &steps, None).unwrap();
        let loss = features
            .mul(readout.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let grads: Vec<Tensor> = vars
            .iter()
            .map(|v| match grads.get(v.as_tensor()) {
                Some(g) => g.clone(),
                None => Tensor::zeros(v.shape(), DType::F32, &Device::Cpu).unwrap(),
            })
            .collect();
        (features, grads)
    };
    let (fused, fused_grads) = run(&encoder);
    let (reference, reference_grads) = run(&encoder.clone().with_kernel(Kernel::Reference));

    let what = format!(
        "{} layers={} bi={} input={} hidden={} lengths={:?}",
        case.cell, case.layers, case.bidirectional, case.input, case.hidden, case.lengths
    );
    let d = max_diff(&fused, &reference);
    assert!(d < TOLERANCE, "{what}: features differ by {d}");
    let names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];
    for (i, (f, r)) in fused_grads.iter().zip(&reference_grads).enumerate() {
        let name = if i + 1 == vars.len() {
            "input".to_string()
        } else {
            format!("tensor {} of direction {}", names[i % 4], i / 4)
        };
        let d = max_diff(f, r);
        assert!(d < TOLERANCE, "{what}: gradient of {name} differs by {d}");
    }
    // Kernel::Bf16 leaves training alone: with gradients to take it is the fused kernel.
    let (bf16_tracked, bf16_grads) = run(&encoder.clone().with_kernel(Kernel::Bf16));
    assert_eq!(
        max_diff(&bf16_tracked, &fused),
        0.0,
        "{what}: bf16 while training"
    );
    for (b, f) in bf16_grads.iter().zip(&fused_grads) {
        assert_eq!(max_diff(b, f), 0.0, "{what}: bf16 gradients");
    }
    let plain = Encoder::new(case.cell, case.hidden, detached);
    check_words(&plain, case, &steps, &mut rng, &what);
    // With nothing to differentiate it multiplies in bfloat16, where the CPU can.
    if bf16_or_skip("the bfloat16 kernel's features") {
        let encoder = plain.with_kernel(Kernel::Bf16);
        let features = encoder
            .forward(&xs.as_tensor().detach(), &steps, None)
            .unwrap();
        let d = max_diff(&features, &reference);
        assert!(d < BF16_TOLERANCE, "{what}: bf16 features differ by {d}");
        let ran = case.lengths.iter().all(|&len| len == 0) || d > 0.0;
        assert!(ran, "{what}: bf16 gave exactly the f32 values");
    }
    // Empty texts have no state, in both paths.
    for (b, &len) in case.lengths.iter().enumerate() {
        if len == 0 {
            let row = fused.get(b).unwrap().abs().unwrap().sum_all().unwrap();
            assert_eq!(row.to_scalar::<f32>().unwrap(), 0.0, "{what}: text {b}");
        }
    }
    (fused, fused_grads)
}

/// Prediction (`Encoder::predict`: words in, the first layer's word rows and every layer's
/// laid-out weights kept from call to call) gives the features of the word vectors, on the
/// first call and on later ones that read what the first kept, with room for some of the words
/// only, and in bfloat16 as closely as the vectors do.
fn check_words(encoder: &Encoder, case: &Case, steps: &Steps, rng: &mut StdRng, what: &str) {
    let (time, batch) = (padded_time(&case.lengths), case.lengths.len());
    let vocab = 9;
    let embedding = uniform(rng, &[vocab, case.input], 1.5).as_tensor().clone();
    let ids: Vec<u32> = (0..time * batch)
        .map(|_| rng.random_range(0..vocab as u32))
        .collect();
    let id_tensor = Tensor::from_slice(&ids, time * batch, &Device::Cpu).unwrap();
    let xs = embedding
        .index_select(&id_tensor, 0)
        .unwrap()
        .reshape((time, batch, case.input))
        .unwrap();
    let reference = encoder.clone().with_kernel(Kernel::Reference);
    let want = reference.forward(&xs, steps, None).unwrap();
    let vectors = encoder.forward(&xs, steps, None).unwrap();
    assert!(
        encoder.reads_words(&embedding, time),
        "{what}: words not read"
    );
    assert!(
        !reference.reads_words(&embedding, time),
        "{what}: reference reads words"
    );
    let dirs = if case.bidirectional { 2 } else { 1 };
    let row_bytes = dirs * case.cell.gates() * case.hidden * 4;
    // Room for a few of the 9 words' rows (their slots count too).
    let cache = encoder.predict_cache(vocab, 5 * row_bytes);
    let bf16 = bf16_or_skip("the bfloat16 kernel's features from words");
    for (kernel, tolerance) in [(Kernel::Auto, TOLERANCE), (Kernel::Bf16, BF16_TOLERANCE)] {
        if kernel == Kernel::Bf16 && !bf16 {
            continue;
        }
        let encoder = encoder.clone().with_kernel(kernel);
        for round in 0..3 {
            let got = encoder.predict(&ids, &embedding, steps, &cache).unwrap();
            let d = max_diff(&got, &want);
            let what = format!("{what}: {kernel:?} words, round {round}");
            assert!(d < tolerance, "{what}: features differ by {d}");
            if kernel == Kernel::Auto {
                assert_eq!(max_diff(&got, &vectors), 0.0, "{what}: words vs vectors");
            }
        }
    }
}

const CELLS: [Cell; 3] = [Cell::Lstm, Cell::Gru, Cell::Rnn];

/// Every cell, both directions, one and two layers, on each set of lengths.
fn check_all(lengths: &[usize], input: usize, hidden: usize) {
    let mut seed = 0;
    for cell in CELLS {
        for layers in [1, 2] {
            for bidirectional in [false, true] {
                seed += 1;
                let case = Case {
                    cell,
                    layers,
                    bidirectional,
                    input,
                    hidden,
                    lengths: lengths.to_vec(),
                };
                check(&case, seed);
            }
        }
    }
}

#[test]
fn ragged_lengths_with_empty_texts() {
    check_all(&[3, 0, 5, 1, 5, 2], 4, 6);
}

#[test]
fn equal_lengths() {
    check_all(&[4, 4, 4], 3, 5);
}

#[test]
fn one_text() {
    check_all(&[7], 5, 4);
}

#[test]
fn one_step() {
    check_all(&[1, 0, 1], 2, 3);
}

#[test]
fn only_empty_texts() {
    check_all(&[0, 0], 3, 2);
}

#[test]
fn empty_batch() {
    check_all(&[], 3, 2);
}

#[test]
fn hidden_of_one() {
    check_all(&[2, 3], 1, 1);
}

/// Sizes past the matrix microkernels' tiles, with random lengths.
#[test]
fn random_shapes() {
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..12 {
        let batch = rng.random_range(1..20);
        let time = rng.random_range(1..12);
        let lengths: Vec<usize> = (0..batch).map(|_| rng.random_range(0..=time)).collect();
        let case = Case {
            cell: CELLS[round % 3],
            layers: rng.random_range(1..=2),
            bidirectional: rng.random_bool(0.5),
            input: rng.random_range(1..40),
            hidden: rng.random_range(1..40),
            lengths,
        };
        check(&case, 100 + round as u64);
    }
}

/// Enough (step, text) rows that the kernel works through several blocks of steps, the last one
/// short, and a batch so wide that a block is a single step.
#[test]
fn many_blocks() {
    let mut rng = StdRng::seed_from_u64(11);
    for (round, (batch, time)) in [(37, 23), (300, 3)].into_iter().enumerate() {
        let mut lengths: Vec<usize> = (0..batch).map(|_| rng.random_range(0..=time)).collect();
        lengths[0] = time;
        for (i, cell) in CELLS.into_iter().enumerate() {
            let case = Case {
                cell,
                layers: 2,
                bidirectional: true,
                input: 3,
                hidden: 4,
                lengths: lengths.clone(),
            };
            check(&case, 200 + (round * 3 + i) as u64);
        }
    }
}

/// A batch split across threads gives each text the same features as one thread does, bit for
/// bit, and gradients that differ only in the rounding of the sum over parts.
#[test]
fn split_across_threads() {
    let mut rng = StdRng::seed_from_u64(13);
    let mut lengths: Vec<usize> = (0..41).map(|_| rng.random_range(0..=9)).collect();
    lengths.sort_unstable_by(|a, b| b.cmp(a));
    for (i, cell) in CELLS.into_iter().enumerate() {
        let case = Case {
            cell,
            layers: 2,
            bidirectional: true,
            input: 5,
            hidden: 6,
            lengths: lengths.clone(),
        };
        let in_pool = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| check(&case, 300 + i as u64))
        };
        let (one, one_grads) = in_pool(1);
        for threads in [2, 3, 5] {
            let (split, split_grads) = in_pool(threads);
            assert_eq!(
                max_diff(&one, &split),
                0.0,
                "{cell}, {threads} threads: features"
            );
            for (a, b) in one_grads.iter().zip(&split_grads) {
                let d = max_diff(a, b);
                assert!(
                    d < 1e-5,
                    "{cell}, {threads} threads: gradients differ by {d}"
                );
            }
        }
    }
}
