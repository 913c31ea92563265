#!/usr/bin/env python3
# requirements: scripts/parity/requirements.txt
"""GPU speed: lstm-sentiment's CUDA build (`--device cuda`) against the PyTorch twin on the same GPU
(cuDNN's LSTM), and against our own fused CPU kernel on the same machine's cores.

    cargo bench --features cuda --bench throughput --no-run      # prints the bench executable
    scripts/python.sh scripts/bench/gpu.py --bench-bin target/release/deps/throughput-HASH [--runs 3]

Model as in scripts/bench/vs_torch.py: embedding 20000 x 128 -> LSTM 256 -> linear 2, dropout
0.3, AdamW 2e-3, clipping 5, batch 64; synthetic texts of fixed length (40 tokens, and 268 as an
IMDB review's median). Training: one untimed warm-up epoch, then one timed epoch; every step
reads the loss and the logits back to the host on both sides (which also synchronizes the GPU).
Prediction: batch 256 through `Classifier::predict_batch` and, for the twin, tokenize, pad,
pack, encoder, head, softmax, back to Python floats; one-text latency the same way, one text of
20 tokens a call. The LSTM alone: forward and backward of a batch (the bench's `encoder` mode
against `nn.LSTM`). Medians of --runs, sides alternating. --recurrence sets
LSTM_SENTIMENT_CUDA_RECURRENCE for our side (docs/gpu.md): the step loops or the persistent
kernels.
Needs PyTorch with CUDA and the `tokenizers` package; nothing from ../shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "parity"))
import torch_twin as twin  # noqa: E402

VOCAB, EMBEDDING, HIDDEN, BATCH, PREDICT_BATCH = 20_000, 128, 256, 64, 256
DROPOUT, LR, CLIP = 0.3, 2e-3, 5.0


# The environment of our side's runs; main() adds the recurrence.
OURS_ENV = dict(os.environ)


def ours(bench: str, *args: str) -> dict:
    done = subprocess.run([bench, *args], capture_output=True, text=True, env=OURS_ENV)
    if done.returncode != 0:
        sys.exit(f"{bench} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def torch_train(texts: int, length: int, packed: bool, dev) -> float:
    """Tokens/s of the second of two epochs over `texts` random texts of `length` tokens."""
    torch.manual_seed(0)
    model = twin.Classifier("lstm", VOCAB, EMBEDDING, HIDDEN, 1, False, 2).to(dev)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    ids = torch.randint(2, VOCAB, (texts, length))
    labels = torch.randint(0, 2, (texts,))
    lengths = torch.full((BATCH,), length, dtype=torch.int64)
    rate = 0.0
    for _ in range(2):
        start, tokens = time.perf_counter(), 0
        for i in range(0, texts - BATCH + 1, BATCH):
            batch = ids[i:i + BATCH].to(dev)
            y = labels[i:i + BATCH].to(dev)
            lens = lengths if packed else lengths.to(dev)
            loss, logits = twin.train_step(model, opt, batch, lens, y, DROPOUT, CLIP, packed)
            loss.item()
            logits.detach().tolist()
            tokens += BATCH * length
        rate = tokens / (time.perf_counter() - start)
    return rate


def mixed_lengths(length: int, mixed: bool) -> list[int]:
    """The bench's `encoder --mixed` lengths: evenly from half of `length` to all of it."""
    half = length // 2
    return [half + (length - half) * (b + 1) // BATCH if mixed else length for b in range(BATCH)]


def torch_encoder(length: int, mixed: bool, dev, iters: int = 50) -> tuple[float, float]:
    """cuDNN's LSTM alone, as the bench's `encoder` mode runs ours: the final state of a batch
    of 64 texts, forward and backward, each pass ended by a synchronization; mixed lengths
    packed. Median milliseconds of the forward and of both."""
    torch.manual_seed(0)
    lstm = nn.LSTM(EMBEDDING, HIDDEN).to(dev)
    lengths = mixed_lengths(length, mixed)
    xs = torch.rand(max(lengths), BATCH, EMBEDDING, device=dev, requires_grad=True)
    lens = torch.tensor(lengths)
    forward, both = [], []
    for i in range(iters + 5):
        start = time.perf_counter()
        inp = pack_padded_sequence(xs, lens, enforce_sorted=False) if mixed else xs
        _, (h_n, _) = lstm(inp)
        torch.cuda.synchronize(dev) if dev.type == "cuda" else None
        forward_s = time.perf_counter() - start
        h_n.sum().backward()
        torch.cuda.synchronize(dev) if dev.type == "cuda" else None
        if i >= 5:
            forward.append(forward_s)
            both.append(time.perf_counter() - start)
    return statistics.median(forward) * 1e3, statistics.median(both) * 1e3


def twin_predictor(model_dir: str, dev):
    """The twin's prediction from texts: tokenize, pad, pack, encoder, head, softmax, back to
    Python floats, as `Classifier::predict_batch` goes from texts to probabilities."""
    model, tokenizer, config = twin.load_model_dir(model_dir)
    model = model.to(dev).eval()

    @torch.no_grad()
    def predict(texts: list[str]) -> list[list[float]]:
        ids = twin.encode(tokenizer, texts, config["max_length"])
        padded, lengths = twin.pad(ids)
        xs = model.embedding(padded.to(dev))
        seqs = pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = model.encoder(seqs)
        return torch.softmax(model.head(h_n[-1]), dim=-1).tolist()

    return predict


def torch_predict(model_dir: str, texts: list[str], dev, repeat: int) -> float:
    """Texts/s, median of `repeat` passes after one warm-up batch."""
    batch = twin_predictor(model_dir, dev)
    batch(texts[:PREDICT_BATCH])
    passes = []
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(0, len(texts), PREDICT_BATCH):
            batch(texts[i:i + PREDICT_BATCH])
        passes.append(time.perf_counter() - start)
    return len(texts) / statistics.median(passes)


def torch_latency(model_dir: str, text: str, dev, calls: int = 500, warmup: int = 50):
    """p50 and p99 microseconds of one text's prediction, as the bench's `latency` mode."""
    predict = twin_predictor(model_dir, dev)
    for _ in range(warmup):
        predict([text])
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        predict([text])
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bench-bin", required=True, help="benches/throughput built with --features cuda")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cpu-threads", type=int, default=16, help="threads for our CPU figures")
    p.add_argument("--predict-texts", type=int, default=4096)
    p.add_argument("--device", default="cuda",
                   help="both sides' GPU device; `cpu` only to try this script out")
    p.add_argument("--quick", action="store_true", help="a few batches of each, to try it out")
    p.add_argument("--recurrence", choices=["steps", "auto", "persistent"], default="steps",
                   help="how our GPU side runs the recurrence (default: steps)")
    p.add_argument("--encoder-only", action="store_true",
                   help="the LSTM alone, then stop: a quick comparison of --recurrence ways")
    args = p.parse_args()
    OURS_ENV["LSTM_SENTIMENT_CUDA_RECURRENCE"] = args.recurrence
    dev = torch.device(args.device)
    if dev.type == "cuda":
        print(f"# GPU: {torch.cuda.get_device_name(0)}; PyTorch {torch.__version__}, "
              f"cuDNN {torch.backends.cudnn.version()}", flush=True)
    sizes = [(128, 40), (64, 268)] if args.quick else [(2048, 40), (512, 268)]
    if args.quick:
        args.predict_texts = 512
    common = ["--cell", "lstm", "--embedding-dim", str(EMBEDDING), "--hidden", str(HIDDEN),
              "--batch", str(BATCH), "--vocab", str(VOCAB), "--epochs", "1"]
    work = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    encoder_rows = []
    for length, mixed in [(40, False), (268, False), (268, True)]:
        shape = ["--hidden", str(HIDDEN), "--input", str(EMBEDDING), "--batch", str(BATCH),
                 "--length", str(length)] + (["--mixed"] if mixed else [])
        r = ours(args.bench_bin, "--device", args.device, "encoder", *shape)
        t = torch_encoder(length, mixed, dev)
        encoder_rows.append((length, mixed, (r["forward_ms"], r["forward_backward_ms"]), t))
        print(f"# encoder {length} tokens{' mixed' if mixed else ''}: ours "
              f"({args.recurrence}) {r['forward_ms']:.2f} / {r['forward_backward_ms']:.2f} ms, "
              f"torch {t[0]:.2f} / {t[1]:.2f} ms (forward / both)", flush=True)
    if args.encoder_only:
        return 0
    rows = []
    for texts, length in sizes:
        figures = {"gpu": [], "cpu": [], "torch_packed": [], "torch_padded": []}
        for run in range(args.runs):
            size = ["--texts", str(texts), "--length", str(length)]
            save = ["--save", str(work / "model")] if run == 0 and length == 40 else []
            gpu = ours(args.bench_bin, "--device", args.device, "train", *common, *size, *save)
            figures["gpu"].append(gpu["tokens_per_second"])
            cpu = ours(args.bench_bin, "--threads", str(args.cpu_threads), "train", *common, *size)
            figures["cpu"].append(cpu["tokens_per_second"])
            figures["torch_packed"].append(torch_train(texts, length, True, dev))
            figures["torch_padded"].append(torch_train(texts, length, False, dev))
            print(f"# train {length} tokens, run {run + 1}: "
                  + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in figures.items()), flush=True)
        med = {k: statistics.median(v) for k, v in figures.items()}
        rows.append((f"training tokens/s, {length}-token texts", med))

    words = [f"w{i}" for i in range(VOCAB)]
    rng = random.Random(1)
    texts = [" ".join(rng.choice(words) for _ in range(40)) for _ in range(args.predict_texts)]
    (work / "texts.txt").write_text("\n".join(texts) + "\n")
    figures = {"gpu": [], "cpu": [], "torch_packed": []}
    for _ in range(args.runs):
        pred = ["predict", "--model", str(work / "model"), "--input", str(work / "texts.txt"),
                "--batch", str(PREDICT_BATCH)]
        figures["gpu"].append(ours(args.bench_bin, "--device", args.device, *pred)["texts_per_second"])
        figures["cpu"].append(
            ours(args.bench_bin, "--threads", str(args.cpu_threads), *pred)["texts_per_second"])
        figures["torch_packed"].append(torch_predict(str(work / "model"), texts, dev, 1))
    rows.append(("prediction texts/s, 40-token texts, batch 256",
                 {k: statistics.median(v) for k, v in figures.items()}))

    lat = {}
    for name, extra in [("gpu", ["--device", args.device]), ("cpu", ["--threads", "1"])]:
        r = ours(args.bench_bin, *extra, "latency", "--model", str(work / "model"),
                 "--length", "20", "--calls", "500", "--warmup", "50")
        lat[name] = (r["p50_us"], r["p99_us"])
    one_text = " ".join(rng.choice(words) for _ in range(20))
    lat["torch"] = torch_latency(str(work / "model"), one_text, dev)

    print(f"\nthe LSTM alone, batch {BATCH}, forward / forward and backward, ms:")
    for length, mixed, (of, ob), (tf, tb) in encoder_rows:
        kind = "mixed lengths (packed)" if mixed else "equal lengths"
        print(f"  {length} tokens, {kind:23} ours {of:6.2f} / {ob:6.2f}   torch {tf:6.2f} / "
              f"{tb:6.2f}   speed ours/torch {tb / ob:.3f}")
    print(f"\n{'':48} {'ours GPU':>10} {'ours CPU':>10} {'torch GPU':>10} {'ratio':>7}")
    for label, med in rows:
        torch_best = max(v for k, v in med.items() if k.startswith("torch"))
        print(f"{label:48} {med['gpu']:>10,.0f} {med['cpu']:>10,.0f} {torch_best:>10,.0f} "
              f"{med['gpu'] / torch_best:>7.3f}")
        print(f"{'':48} (torch packed / padded: "
              + " / ".join(f"{med[k]:,.0f}" for k in med if k.startswith("torch")) + ")")
    print(f"one-text latency p50/p99 us, 20 tokens: GPU {lat['gpu'][0]:.0f}/{lat['gpu'][1]:.0f}, "
          f"CPU (1 thread) {lat['cpu'][0]:.0f}/{lat['cpu'][1]:.0f}, "
          f"torch GPU {lat['torch'][0]:.0f}/{lat['torch'][1]:.0f}")
    print(f"(ours CPU: the fused kernel with --threads {args.cpu_threads} on this machine's cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
