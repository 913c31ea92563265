//! The CUDA backend against the CPU: the same model gives the same numbers on both, and the
//! fused recurrent kernel gives the CPU kernel's values and gradients. These run only in builds
//! with the `cuda` feature, on a machine with a GPU:
//! `cargo test --release --features cuda --test integration cuda::`.

use crate::common::{ex, max_diff, max_diff_rows, run, stderr, stdout, trained};
use candle_core::{Device, Tensor, Var};
use lstm_sentiment::encoder::{padded_time, DirectionWeights, Encoder, Steps};
use lstm_sentiment::{Cell, Classifier, DeviceSpec, Example, Pooling, TrainConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GPU: DeviceSpec = DeviceSpec::Cuda(0);

/// Texts of 1 to 12 words whose label is carried by one cue word; lengths vary so that
/// batches hold texts that end at different steps.
fn examples(n: usize) -> Vec<Example> {
    const CUES: [(&str, &str); 4] = [
        ("great", "positive"),
        ("lovely", "positive"),
        ("awful", "negative"),
        ("boring", "negative"),
    ];
    const FILLER: [&str; 6] = ["the", "film", "was", "a", "plot", "really"];
    (0..n)
        .map(|i| {
            let (cue, label) = CUES[i % CUES.len()];
            let mut words: Vec<&str> = (0..i % 12).map(|j| FILLER[(i + j) % 6]).collect();
            words.insert((i * 7) % (words.len() + 1), cue);
            ex(label, &words.join(" "))
        })
        .collect()
}

fn texts(examples: &[Example]) -> Vec<&str> {
    examples.iter().map(|e| e.text.as_str()).collect()
}

#[test]
fn builtin_model_gives_the_cpu_logits_on_the_gpu() {
    let cpu = Classifier::builtin().unwrap();
    let gpu = cpu.clone().to_device(GPU).unwrap();
    assert!(gpu.device().is_cuda());
    let long = "the plot drags and the acting is wooden ".repeat(40);
    let texts = [
        "",
        "great",
        "A wonderful, moving film. I loved every minute of it.",
        "The food was cold and the staff were rude.",
        "菜很好吃，送餐也快",
        long.as_str(),
    ];
    let (a, b) = (cpu.logits(&texts).unwrap(), gpu.logits(&texts).unwrap());
    assert!(max_diff_rows(&a, &b) < 1e-4, "{a:?}\n{b:?}");
    let labels = |c: &Classifier| -> Vec<String> {
        let p = c.predict_batch(&texts).unwrap();
        p.into_iter().map(|p| p.label).collect()
    };
    assert_eq!(labels(&cpu), labels(&gpu));
}

/// Training takes the same steps on both devices (the GPU computes the dropout masks the CPU
/// draws, from the same seeded stream), so the two runs end close; float sums in another order
/// keep them from being bit-identical. With a moving average of the weights (kept on the GPU
/// there), the scored and kept weights are the average's.
#[test]
fn training_on_the_gpu_follows_the_cpu() {
    let data = examples(96);
    let dev = examples(40);
    for (cell, bidirectional, num_layers, ema) in [
        (Cell::Lstm, false, 1, 0.0),
        (Cell::Gru, true, 2, 0.0),
        (Cell::Rnn, true, 1, 0.0),
        (Cell::Lstm, true, 1, 0.9),
    ] {
        let config = TrainConfig {
            cell,
            bidirectional,
            num_layers,
            embedding_dim: 16,
            hidden_size: 12,
            dropout: 0.1,
            epochs: Some(2),
            batch_size: 8,
            lr: 0.01,
            patience: 0,
            seed: 3,
            ema: Some(ema),
            ..TrainConfig::default()
        };
        let (on_cpu, cpu_report) = trained(&data, Some(&dev), &config);
        let gpu_config = TrainConfig {
            device: GPU,
            ..config
        };
        let (on_gpu, gpu_report) = trained(&data, Some(&dev), &gpu_config);
        assert!(on_gpu.device().is_cuda(), "{cell:?}");
        let what = format!("{cell:?} bidirectional={bidirectional} layers={num_layers} ema={ema}");
        let (a, b) = (
            on_cpu.logits(&texts(&dev)).unwrap(),
            on_gpu.logits(&texts(&dev)).unwrap(),
        );
        assert!(max_diff_rows(&a, &b) < 1e-3, "{what}: {a:?}\n{b:?}");
        for (c, g) in cpu_report.epochs.iter().zip(&gpu_report.epochs) {
            assert!(
                (c.train_loss - g.train_loss).abs() < 1e-3,
                "{what}: {c:?} {g:?}"
            );
            assert_eq!(c.dev_accuracy, g.dev_accuracy, "{what}");
        }
    }
}

#[test]
fn a_model_trained_on_the_gpu_loads_on_the_cpu() {
    let config = TrainConfig {
        embedding_dim: 16,
        hidden_size: 12,
        epochs: Some(1),
        batch_size: 8,
        device: GPU,
        ..TrainConfig::default()
    };
    let data = examples(64);
    let (on_gpu, _) = trained(&data, None, &config);
    let dir = tempfile::tempdir().unwrap();
    on_gpu.save(dir.path()).unwrap();
    let on_cpu = Classifier::load(dir.path()).unwrap();
    assert!(on_cpu.device().is_cpu());
    let t = texts(&data);
    let diff = max_diff_rows(&on_gpu.logits(&t).unwrap(), &on_cpu.logits(&t).unwrap());
    assert!(diff < 1e-4, "{diff}");
}

#[test]
fn cli_predicts_on_the_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let text = "A wonderful, moving film. I loved every minute of it.";
    let on = |device: &str| {
        let out = run(dir.path(), &["--device", device, "predict", "--json", text]);
        assert!(out.status.success(), "{}", stderr(&out));
        let line: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        (line["label"].clone(), line["score"].as_f64().unwrap())
    };
    let (cpu, gpu) = (on("cpu"), on("cuda"));
    assert_eq!(cpu.0, gpu.0);
    assert!((cpu.1 - gpu.1).abs() < 1e-4, "{cpu:?} {gpu:?}");
}

/// One encoder for [`fused_kernel_follows_the_cpu`].
struct Case {
    cell: Cell,
    layers: usize,
    bidirectional: bool,
    /// Last: the last layer hands on final states alone; Mean: every step's.
    pooling: Pooling,
    input: usize,
    hidden: usize,
    lengths: Vec<usize>,
}

/// The encoder's features and the gradients of their product with `readout` with respect to
/// every weight tensor (layer by layer, direction by direction: W_ih, W_hh, b_ih, b_hh) and the
/// input, last, from `values` put on `device`.
fn features_and_grads(
    case: &Case,
    (values, readout): &(Vec<Tensor>, Tensor),
    device: &Device,
) -> Vec<Vec<f32>> {
    let vars: Vec<Var> = (values.iter())
        .map(|t| Var::from_tensor(&t.to_device(device).unwrap()).unwrap())
        .collect();
    let (xs, weights) = vars.split_last().unwrap();
    let directions: Vec<DirectionWeights> = (weights.chunks(4))
        .map(|w| DirectionWeights {
            weight_ih: w[0].as_tensor().clone(),
            weight_hh: w[1].as_tensor().clone(),
            bias_ih: w[2].as_tensor().clone(),
            bias_hh: w[3].as_tensor().clone(),
        })
        .collect();
    let per_layer = 1 + usize::from(case.bidirectional);
    let layers = directions.chunks(per_layer).map(<[_]>::to_vec).collect();
    let encoder = Encoder::new(case.cell, case.hidden, layers).with_pooling(case.pooling);
    let steps = Steps::new(&case.lengths, xs.dim(0).unwrap(), device).unwrap();
    let features = encoder.forward(xs.as_tensor(), &steps, None).unwrap();
    let readout = readout.to_device(device).unwrap();
    let loss = features.mul(&readout).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut out = vec![flat(&features)];
    out.extend(
        vars.iter()
            .map(|v| flat(grads.get(v.as_tensor()).expect("a gradient"))),
    );
    out
}

/// Random weights of twice PyTorch's initial scale (so that gates also saturate), a random
/// input and a random read-out of the features, as `features_and_grads` reads them.
fn random_values(case: &Case, seed: u64) -> (Vec<Tensor>, Tensor) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut uniform = |shape: &[usize], scale: f32| {
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    };
    let directions = 1 + usize::from(case.bidirectional);
    let gates = case.cell.gates() * case.hidden;
    let scale = 2.0 / (case.hidden as f32).sqrt();
    let mut values = Vec::new();
    for l in 0..case.layers {
        let input = if l == 0 {
            case.input
        } else {
            directions * case.hidden
        };
        for _ in 0..directions {
            values.push(uniform(&[gates, input], scale));
            values.push(uniform(&[gates, case.hidden], scale));
            values.push(uniform(&[gates], scale));
            values.push(uniform(&[gates], scale));
        }
    }
    let time = padded_time(&case.lengths);
    let batch = case.lengths.len();
    values.push(uniform(&[time, batch, case.input], 1.5));
    let width = directions * case.hidden * case.pooling.width();
    (values, uniform(&[batch, width], 1.0))
}

/// The fused kernel on the GPU gives the fused CPU kernel's features and gradients (input and
/// every weight tensor) to 1e-4: every cell, 1 to 3 layers, one and two directions, final
/// states and every step's, texts of mixed lengths (an empty one, two running to the end).
#[test]
fn fused_kernel_follows_the_cpu() {
    let gpu = GPU.open().unwrap();
    let mut seed = 0;
    for cell in [Cell::Lstm, Cell::Gru, Cell::Rnn] {
        for layers in 1..=3 {
            for bidirectional in [false, true] {
                for pooling in [Pooling::Last, Pooling::Mean] {
                    seed += 1;
                    let case = Case {
                        cell,
                        layers,
                        bidirectional,
                        pooling,
                        input: 6,
                        hidden: 8,
                        lengths: vec![5, 0, 3, 7, 1, 7, 2],
                    };
                    check_fused(&case, seed, &gpu);
                }
            }
        }
    }
}

/// As [`fused_kernel_follows_the_cpu`] with more (text, unit) pairs than one block of GPU
/// threads holds and sizes past cuBLAS's small tiles.
#[test]
fn fused_kernel_follows_the_cpu_on_wider_layers() {
    let gpu = GPU.open().unwrap();
    let lengths = vec![30, 12, 0, 29, 1, 30, 17, 8, 25];
    for (i, cell) in [Cell::Lstm, Cell::Gru, Cell::Rnn].into_iter().enumerate() {
        let case = Case {
            cell,
            layers: 2,
            bidirectional: true,
            pooling: Pooling::Mean,
            input: 33,
            hidden: 70,
            lengths: lengths.clone(),
        };
        check_fused(&case, 100 + i as u64, &gpu);
    }
}

fn check_fused(case: &Case, seed: u64, gpu: &Device) {
    let values = random_values(case, seed);
    let cpu_run = features_and_grads(case, &values, &Device::Cpu);
    let gpu_run = features_and_grads(case, &values, gpu);
    let what = format!(
        "{} layers={} bidirectional={} pooling={} lengths={:?}",
        case.cell, case.layers, case.bidirectional, case.pooling, case.lengths
    );
    let last = cpu_run.len() - 1;
    for (i, (c, g)) in cpu_run.iter().zip(&gpu_run).enumerate() {
        let name = match i {
            0 => "features".to_string(),
            i if i == last => "gradient of the input".to_string(),
            i => {
                let tensor = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"][(i - 1) % 4];
                format!("gradient of {tensor} of direction {}", (i - 1) / 4)
            }
        };
        let d = max_diff(c, g);
        assert!(d < 1e-4, "{what}: {name} differs by {d}");
    }
}

/// The word vectors' gradient on the GPU (summed per table row by a kernel of our own) is the
/// CPU's: ids repeated within and across texts, rows never read (zero), a table wider than a
/// block of threads.
#[test]
fn embedding_gradient_follows_the_cpu() {
    let gpu = GPU.open().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let (vocab, dim, time, batch) = (50, 300, 9, 5);
    let table: Vec<f32> = (0..vocab * dim)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    // Ids from the first 30 rows, so that rows 30-49 get no gradient.
    let ids: Vec<u32> = (0..time * batch).map(|_| rng.random_range(0..30)).collect();
    let readout: Vec<f32> = (0..time * batch * dim)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    // With the ids also on the host, the gradient is summed from those; without, from a copy.
    let grad_on = |device: &Device, host: bool| {
        let table = Var::from_vec(table.clone(), (vocab, dim), device).unwrap();
        let on_device = Tensor::from_vec(ids.clone(), (time, batch), device).unwrap();
        let readout = Tensor::from_vec(readout.clone(), (time, batch, dim), device).unwrap();
        let embedding = lstm_sentiment::embedding::Embedding::new(table.as_tensor().clone());
        let xs = match host {
            true => embedding.forward_with_host_ids(&on_device, &ids),
            false => embedding.forward(&on_device),
        }
        .unwrap();
        let grads = xs
            .mul(&readout)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let grad = grads.get(table.as_tensor()).expect("a gradient");
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        (flat(&xs), flat(grad))
    };
    let (cpu_xs, cpu_grad) = grad_on(&Device::Cpu, false);
    assert!(cpu_grad[30 * dim..].iter().all(|&g| g == 0.0));
    for host in [false, true] {
        let (gpu_xs, gpu_grad) = grad_on(&gpu, host);
        assert_eq!(cpu_xs, gpu_xs);
        let d = max_diff(&cpu_grad, &gpu_grad);
        assert!(
            d < 1e-5,
            "the table's gradient differs by {d} (host ids: {host})"
        );
    }
}
