"""What the scripts beside this one share: asking the binary for its predictions, and reading a
labelled file (through baselines.py's reader, which names a bad line)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from baselines import read_rows

ROOT = Path(__file__).resolve().parents[2]


def read_labelled(path):
    """(gold, texts) of a `label<TAB>text` file, gold True for `1` or `positive`."""
    rows = read_rows(str(path))
    return [label == 1 for label, _ in rows], [text for _, text in rows]


def predict(texts, model=None, flags=()):
    """One `predict --json` object per text (the binary is $BIN, else
    target/release/lstm-sentiment; the model is `model`, else the built-in one; `flags` go
    after `predict`)."""
    binary = os.environ.get("BIN", str(ROOT / "target" / "release" / "lstm-sentiment"))
    command = [binary, "predict", *flags, "--json", "--input", "-"]
    command += ["--model", str(model)] if model else []
    done = subprocess.run(command, input="\n".join(texts) + "\n", capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    out = [json.loads(line) for line in done.stdout.splitlines()]
    if len(out) != len(texts):
        sys.exit(f"{len(texts)} texts but {len(out)} predictions (a text with a newline?)")
    return out


def positive_probabilities(texts, model=None):
    """p(positive) per text."""
    return [p["probs"]["positive"] for p in predict(texts, model)]
