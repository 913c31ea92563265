#!/usr/bin/env python3
# requirements: scripts/parity/requirements.txt
"""Wall time to train a small sentiment model (SST-2 phrases and Chinese takeaway reviews):
lstm-sentiment against its PyTorch twin, same data, sizes, epochs and threads, in one run.

    scripts/python.sh scripts/bench/builtin_train.py [--threads 2] [--packed]

Ours: `scripts/model/build_sst2_waimai.sh OUT` (SST-2 phrases plus zh-waimai train, LSTM
128/128, dropout 0.5, AdamW 2e-3, batch 64, early stopping on dev)
with `--threads N`, timed from process start to the saved model; vocabulary building, every
epoch's dev evaluation and the float16 conversion included.
PyTorch: the same train and dev texts, tokenized with the tokenizer our run built (so no
vocabulary building on its side), trained for as many epochs as ours ran, with the same
hyperparameters, length-bucketed batches and a dev evaluation after each epoch; padded batches
with the state gathered at each text's end (the faster PyTorch variant; --packed uses
pack_padded_sequence as the twin does). torch.set_num_threads(N). Its time starts after
`import torch` and covers tokenizing, training and evaluation.

About 3 minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "parity"))


def read_tsv(path: Path) -> list[tuple[str, str]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                label, text = line.split("\t", 1)
                rows.append((label, text))
    return rows


def data_sets(data: Path):
    """The train and dev sets of build_sst2_waimai.sh (without IMDB)."""
    zh = read_tsv(data / "zh-waimai/train.tsv")
    train = read_tsv(data / "sst2/train_phrases.tsv") + zh[:-600]
    dev = read_tsv(data / "sst2/dev.tsv") + zh[-600:]
    return train, dev


def ours(threads: int, out: Path) -> float:
    env = dict(os.environ, EXTRA=f"--threads {threads}")
    start = time.perf_counter()
    done = subprocess.run([str(ROOT / "scripts/model/build_sst2_waimai.sh"), str(out)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"build_sst2_waimai.sh failed:\n{done.stderr[-4000:]}")
    return time.perf_counter() - start


def twin_train(model_dir: Path, train, dev, epochs: int, packed: bool) -> tuple[float, float]:
    """(wall seconds, last dev accuracy) of the PyTorch twin."""
    import torch
    from tokenizers import Tokenizer
    import torch_twin as twin

    config = json.loads((model_dir / "config.json").read_text())
    hp = config["training"]["config"]
    labels = {"0": 0, "1": 1}
    start = time.perf_counter()
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    ids = twin.encode(tokenizer, [t for _, t in train], config["max_length"])
    y = [labels[l] for l, _ in train]
    dev_ids = twin.encode(tokenizer, [t for _, t in dev], config["max_length"])
    dev_y = torch.tensor([labels[l] for l, _ in dev])
    torch.manual_seed(hp["seed"])
    model = twin.Classifier("lstm", config["vocab_size"], hp["embedding_dim"],
                            hp["hidden_size"], 1, False, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], weight_decay=0.0)
    rng = random.Random(hp["seed"])
    lengths = [max(1, len(t)) for t in ids]
    accuracy = 0.0
    for _ in range(epochs):
        model.train()
        for idx in twin.length_buckets(lengths, hp["batch_size"], rng):
            batch, lens = twin.pad([ids[i] for i in idx])
            lens = lens.clamp(min=1)
            target = torch.tensor([y[i] for i in idx])
            twin.train_step(model, opt, batch, lens, target, hp["dropout"], hp["clip_norm"],
                            packed)
        model.eval()
        correct = 0
        with torch.no_grad():
            order = sorted(range(len(dev_ids)), key=lambda i: len(dev_ids[i]))
            for s in range(0, len(order), 256):
                idx = order[s:s + 256]
                batch, lens = twin.pad([dev_ids[i] for i in idx])
                logits, _ = model(batch, lens)
                correct += (logits.argmax(-1) == dev_y[idx]).sum().item()
        accuracy = correct / len(dev_ids)
    return time.perf_counter() - start, accuracy


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--packed", action="store_true", help="PyTorch through pack_padded_sequence")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    train, dev = data_sets(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model"
        our_seconds = ours(args.threads, out)
        config = json.loads((out / "config.json").read_text())
        epochs = config["training"]["epochs"]
        our_accuracy = epochs[-1]["dev_accuracy"]
        torch_seconds, torch_accuracy = twin_train(out, train, dev, len(epochs), args.packed)
    variant = "packed" if args.packed else "padded"
    print(f"train {len(train)} texts, dev {len(dev)}, {len(epochs)} epochs, "
          f"{args.threads} thread(s), machine: {os.cpu_count()} CPUs")
    print(f"ours:    {our_seconds:7.1f} s  (last epoch's dev accuracy {our_accuracy:.4f})")
    print(f"PyTorch: {torch_seconds:7.1f} s  (last epoch's dev accuracy {torch_accuracy:.4f}, "
          f"{variant})")
    print(f"ratio PyTorch / ours: {torch_seconds / our_seconds:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
