//! The recurrent encoder alone, forward and backward, on any device: what the recurrence
//! costs apart from the rest of a training step (embedding, head, loss, optimizer), to set
//! against PyTorch's `nn.LSTM` on the same sizes (scripts/bench/gpu.py does).

use super::{Result, Shape};
use candle_core::Var;
use clap::Args;
use lstm_sentiment::encoder::{padded_time, DirectionWeights, Encoder, Steps};
use lstm_sentiment::DeviceSpec;
use serde_json::{json, Value};
use std::time::Instant;

#[derive(Args, Clone)]
pub struct EncoderArgs {
    /// Width of each step's input (the word vectors).
    #[arg(long, default_value_t = 128)]
    input: usize,
    #[command(flatten)]
    shape: Shape,
    /// Tokens per text (the longest, with --mixed).
    #[arg(long, default_value_t = 40)]
    length: usize,
    /// Texts of mixed length, evenly from half of --length to all of it.
    #[arg(long)]
    mixed: bool,
    /// Timed passes, after five untimed ones.
    #[arg(long, default_value_t = 50)]
    iters: usize,
}

/// Medians over `--iters` passes of the forward alone (gradients tracked, as in training) and
/// of forward and backward together, each ended by a device synchronization.
pub fn bench_encoder(a: &EncoderArgs, device: DeviceSpec) -> Result<Value> {
    let dev = device.open()?;
    let (shape, cell) = (&a.shape, a.shape.cell()?);
    let directions = 1 + usize::from(shape.bidirectional);
    let gates = cell.gates() * shape.hidden;
    let scale = 1.0 / (shape.hidden as f32).sqrt();
    let weight = |shape: &[usize]| Var::rand(-scale, scale, shape, &dev);
    let mut layers = Vec::new();
    for l in 0..shape.layers {
        let input = if l == 0 {
            a.input
        } else {
            directions * shape.hidden
        };
        let mut layer = Vec::new();
        for _ in 0..directions {
            layer.push(DirectionWeights {
                weight_ih: weight(&[gates, input])?.as_tensor().clone(),
                weight_hh: weight(&[gates, shape.hidden])?.as_tensor().clone(),
                bias_ih: weight(&[gates])?.as_tensor().clone(),
                bias_hh: weight(&[gates])?.as_tensor().clone(),
            });
        }
        layers.push(layer);
    }
    let encoder = Encoder::new(cell, shape.hidden, layers);
    let lengths: Vec<usize> = (0..shape.batch)
        .map(|b| match a.mixed {
            true => a.length / 2 + (a.length - a.length / 2) * (b + 1) / shape.batch,
            false => a.length,
        })
        .collect();
    let time = padded_time(&lengths);
    let xs = Var::rand(-1f32, 1f32, (time, shape.batch, a.input), &dev)?;
    let (mut forward, mut both) = (Vec::new(), Vec::new());
    for pass in 0..a.iters + 5 {
        let start = Instant::now();
        let steps = Steps::new(&lengths, time, &dev)?;
        let out = encoder.forward(xs.as_tensor(), &steps, None)?;
        dev.synchronize()?;
        let forward_s = start.elapsed().as_secs_f64();
        let grads = out.sum_all()?.backward()?;
        dev.synchronize()?;
        drop(grads);
        if pass >= 5 {
            forward.push(forward_s);
            both.push(start.elapsed().as_secs_f64());
        }
    }
    let tokens: usize = lengths.iter().sum();
    let (forward, both) = (median(forward), median(both));
    Ok(shape.recorded(json!({
        "mode": "encoder",
        "input": a.input,
        "length": a.length,
        "mixed": a.mixed,
        "tokens": tokens,
        "iters": a.iters,
        "forward_ms": forward * 1e3,
        "forward_backward_ms": both * 1e3,
        "tokens_per_second": tokens as f64 / both,
    })))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
