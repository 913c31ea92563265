#!/usr/bin/env python3
# requirements: scripts/parity/requirements.txt
"""Language-model pretraining speed: `lstm-sentiment pretrain` against the same model and
sampled softmax in PyTorch, on the same windows and threads.

    scripts/python.sh scripts/bench/pretrain_vs_torch.py --input unlabeled.txt \
        [--texts 1000] [--threads 2] [--runs 2] [--embedding-dim 128] [--hidden 256]

Our side: `target/release/lstm-sentiment pretrain` (BIN to use another) on the first --texts lines
of --input, one epoch, nothing held out, no checkpoints; its rate is the tokens/s of its epoch
line (the steps alone, tokenizing excluded). The encoder it writes gives the PyTorch side its
tokenizer, so both read the same tokens, cut into the same windows of --max-length.

PyTorch side (torch.set_num_threads(--threads)): nn.Embedding(vocab, E) -> nn.LSTM(E, H),
batch_first, padded (windows are all full length but a text's last) -> nn.Linear(H, E) ->
scores against the embedding table's rows plus a bias per word, over each window's next
tokens: the target's score and --samples words drawn per batch from unigram^0.75
(torch.multinomial with replacement), every score minus log(K q(w)), a drawn word equal to the
target masked out, cross-entropy; dropout 0.1 on the word vectors and before the projection;
gradient-norm clipping at 1; torch.optim.Adam (dense), lr 2e-3; batches of --batch-size
windows, shuffled. The same work per token as ours. Its rate is over the whole epoch's steps,
after two untimed warm-up steps.

Both sides alternate run by run (--runs each), so load from other jobs on the machine hits both
alike; the table gives medians and the process CPU seconds of each run next to its wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from tokenizers import Tokenizer
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BIN", os.path.join(ROOT, "target", "release", "lstm-sentiment"))


def ours(args, slice_path: str, out_dir: str) -> dict:
    cmd = [
        BIN, "pretrain", "--input", slice_path, "--out", out_dir, "--no-checkpoint",
        "--heldout", "0", "--epochs", "1", "--threads", str(args.threads),
        "--embedding-dim", str(args.embedding_dim), "--hidden", str(args.hidden),
        "--max-length", str(args.max_length), "--batch-size", str(args.batch_size),
        "--samples", str(args.samples), "--max-vocab", str(args.max_vocab),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rate = re.search(r"epoch 1: .* ([0-9.]+) s, ([0-9]+) tok/s", done.stderr)
    if not rate:
        raise SystemExit(f"no epoch line in:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"tokens_per_second": float(rate.group(2)), "epoch_seconds": float(rate.group(1)),
            "wall": wall, "cpu": cpu}


class LanguageModel(nn.Module):
    def __init__(self, vocab: int, dim: int, hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.encoder = nn.LSTM(dim, hidden, batch_first=True)
        self.projection = nn.Linear(hidden, dim)
        self.output_bias = nn.Parameter(torch.zeros(vocab))


def windows_of(tokenizer: Tokenizer, texts: list[str], size: int) -> list[list[int]]:
    out = []
    for encoding in tokenizer.encode_batch(texts, add_special_tokens=False):
        ids = encoding.ids
        out += [ids[i:i + size] for i in range(0, len(ids), size) if len(ids[i:i + size]) >= 2]
    return out


def theirs(args, windows: list[list[int]], vocab: int, seed: int) -> dict:
    torch.manual_seed(seed)
    rng = random.Random(seed)
    counts = torch.zeros(vocab)
    for w in windows:
        counts += torch.bincount(torch.tensor(w), minlength=vocab)
    q = counts.pow(0.75)
    q /= q.sum()
    log_q = torch.log(q.clamp_min(1e-12))
    model = LanguageModel(vocab, args.embedding_dim, args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    order = list(range(len(windows)))
    rng.shuffle(order)
    batches = [order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    k = args.samples
    tokens = 0
    cpu0, start = time.process_time(), time.perf_counter()
    # The first two batches warm PyTorch up (allocations, thread pool) and are not timed.
    for n, b in enumerate(batches[:2] + batches):
        if n == 2:
            tokens = 0
            cpu0, start = time.process_time(), time.perf_counter()
        seqs = [windows[i] for i in b]
        time_len = max(len(s) for s in seqs)
        ids = torch.zeros(len(seqs), time_len, dtype=torch.int64)
        mask = torch.zeros(len(seqs), time_len, dtype=torch.bool)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = torch.tensor(s)
            mask[r, :len(s) - 1] = True  # positions that have a next token
        tokens += sum(len(s) for s in seqs)
        xs = nn.functional.dropout(model.embedding(ids), 0.1, training=True)
        states, _ = model.encoder(xs)
        h = nn.functional.dropout(states[mask], 0.1, training=True)
        z = model.projection(h)  # (n, dim)
        targets = ids[:, 1:][mask[:, :-1]]
        negatives = torch.multinomial(q, k, replacement=True)
        log_k = torch.log(torch.tensor(float(k)))
        true = (z * model.embedding.weight[targets]).sum(1) + model.output_bias[targets]
        true = true - (log_q[targets] + log_k)
        neg = z @ model.embedding.weight[negatives].t() + model.output_bias[negatives]
        neg = neg - (log_q[negatives] + log_k)
        neg = neg.masked_fill(targets[:, None] == negatives[None, :], float("-inf"))
        logits = torch.cat([true[:, None], neg], dim=1)
        loss = nn.functional.cross_entropy(logits, torch.zeros_like(targets))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    wall = time.perf_counter() - start
    return {"tokens_per_second": tokens / wall, "epoch_seconds": wall, "wall": wall,
            "cpu": time.process_time() - cpu0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="unlabelled text, one document per line")
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--max-vocab", type=int, default=30000)
    parser.add_argument("--json-out", help="write the runs here too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as work:
        slice_path = os.path.join(work, "slice.txt")
        with open(args.input, encoding="utf-8") as f, open(slice_path, "w", encoding="utf-8") as o:
            texts = [next(f).rstrip("\n") for _ in range(args.texts)]
            o.write("\n".join(texts) + "\n")
        runs = {"lstm-sentiment": [], "PyTorch": []}
        windows = vocab = None
        for run in range(args.runs):
            out_dir = os.path.join(work, f"encoder{run}")
            runs["lstm-sentiment"].append(ours(args, slice_path, out_dir))
            if windows is None:
                tokenizer = Tokenizer.from_file(os.path.join(out_dir, "tokenizer.json"))
                windows = windows_of(tokenizer, texts, args.max_length)
                vocab = tokenizer.get_vocab_size(with_added_tokens=True)
            runs["PyTorch"].append(theirs(args, windows, vocab, run))
            print(f"run {run + 1}: " + ", ".join(
                f"{side} {r[-1]['tokens_per_second']:.0f} tok/s" for side, r in runs.items()),
                file=sys.stderr)
    tokens = sum(len(w) for w in windows)
    print(f"{args.texts} texts, {len(windows)} windows, {tokens} tokens, vocabulary {vocab}; "
          f"LSTM {args.embedding_dim}/{args.hidden}, {args.samples} samples, "
          f"{args.threads} threads, median of {args.runs} runs")
    print("| side | tokens/s | epoch s | wall s | process CPU s |")
    print("|---|---|---|---|---|")
    med = lambda side, key: statistics.median(r[key] for r in runs[side])  # noqa: E731
    for side in runs:
        print(f"| {side} | {med(side, 'tokens_per_second'):,.0f} | {med(side, 'epoch_seconds'):.1f} "
              f"| {med(side, 'wall'):.1f} | {med(side, 'cpu'):.1f} |")
    ratio = med("lstm-sentiment", "tokens_per_second") / med("PyTorch", "tokens_per_second")
    print(f"ratio (tokens/s): {ratio:.2f}x")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "runs": runs}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
