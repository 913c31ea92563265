#!/usr/bin/env python3
# requirements: scripts/parity/requirements.txt
"""Reverse parity: a model trained by `lstm-sentiment train` loads unchanged in PyTorch.

Loads the model directory in the PyTorch twin (scripts/parity/torch_twin.py: the safetensors names
are used as they are, with load_state_dict(strict=True)), runs the texts through it, runs the
same texts through `lstm-sentiment predict --model DIR --json --input FILE`, and prints the
largest absolute difference between the two sets of probabilities.

Usage:
    scripts/python.sh scripts/parity/check_reverse_parity.py MODEL_DIR TEXTS_OR_DATA [--bin target/release/lstm-sentiment]

TEXTS_OR_DATA is a plain text file with one text per line, or labelled TSV data
(`label<TAB>text`, the text being everything after the first tab; used when the file ends in
.tsv, or with --tsv). Exits with status 1 when the difference exceeds --tolerance, or when the
token ids or predicted labels differ.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_twin  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_texts(path: str, tsv: bool, limit: int | None) -> list[str]:
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if lines:
        lines[0] = lines[0].lstrip("\ufeff")
    if tsv:
        texts = [line.split("\t", 1)[1].strip() for line in lines if "\t" in line]
    else:
        texts = lines
    return texts[:limit] if limit else texts


def rust_probs(binary: str, model_dir: str, texts: list[str]) -> list[dict]:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        for text in texts:
            if "\n" in text or "\r" in text:
                raise ValueError(f"text holds a line break: {text!r}")
            f.write(text + "\n")
        path = f.name
    try:
        result = subprocess.run(
            [binary, "predict", "--model", model_dir, "--json", "--input", path],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(path)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if len(rows) != len(texts):
        raise RuntimeError(f"{binary} printed {len(rows)} lines for {len(texts)} texts")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model directory written by `lstm-sentiment train`")
    parser.add_argument("input", help="text file (one text per line) or TSV data")
    parser.add_argument(
        "--bin",
        default=os.path.join(ROOT, "target", "release", "lstm-sentiment"),
        help="lstm-sentiment binary (default: target/release/lstm-sentiment)",
    )
    parser.add_argument("--tsv", action="store_true", help="read INPUT as label<TAB>text")
    parser.add_argument("--limit", type=int, help="use only the first N texts")
    parser.add_argument("--batch", type=int, default=256, help="texts per PyTorch batch")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    tsv = args.tsv or args.input.lower().endswith(".tsv")
    texts = read_texts(args.input, tsv, args.limit)
    if not texts:
        print("no texts", file=sys.stderr)
        return 2

    model, tokenizer, config = torch_twin.load_model_dir(args.model)
    labels = config["labels"]
    torch_rows = []
    for start in range(0, len(texts), args.batch):
        _, logits, _ = torch_twin.run(model, tokenizer, config, texts[start : start + args.batch])
        torch_rows.extend(torch.softmax(logits, dim=-1).tolist())

    rust_rows = rust_probs(args.bin, args.model, texts)
    max_diff = 0.0
    worst = 0
    label_mismatches = 0
    for i, (t_row, r) in enumerate(zip(torch_rows, rust_rows)):
        if r["text"] != texts[i]:
            raise RuntimeError(f"line {i + 1}: the binary read {r['text']!r}, expected {texts[i]!r}")
        r_row = [r["probs"][label] for label in labels]
        diff = max(abs(a - b) for a, b in zip(t_row, r_row))
        if diff > max_diff:
            max_diff, worst = diff, i
        ranked = sorted(range(len(t_row)), key=lambda k: (-t_row[k], k))
        margin = t_row[ranked[0]] - t_row[ranked[1]]
        if labels[ranked[0]] != r["label"] and margin > 1e-5:  # near-ties may go either way
            label_mismatches += 1

    print(
        f"model: {args.model} ({config['cell']}, {config['num_layers']} layer(s), "
        f"{'bidirectional' if config['bidirectional'] else 'unidirectional'}, "
        f"embedding {config['embedding_dim']}, hidden {config['hidden_size']}, "
        f"vocab {config['vocab_size']})"
    )
    print(f"texts: {len(texts)} from {args.input}")
    print(f"torch {torch.__version__}; binary {args.bin}")
    print(f"predicted labels that differ: {label_mismatches}")
    print(f"worst text ({worst + 1}): {texts[worst][:80]!r}")
    print(f"max |p_torch - p_rust| = {max_diff:.3e}")
    ok = max_diff <= args.tolerance and label_mismatches == 0
    print("OK" if ok else f"FAIL (tolerance {args.tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
