"""What the scripts beside this one share: reading a labelled file and asking the binary for each
text's probability of `positive`."""

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def read_labelled(path):
    """(gold, texts) of a `label<TAB>text` file, gold True for `1` or `positive`."""
    rows = [l.split("\t", 1) for l in Path(path).read_text(encoding="utf-8").splitlines() if "\t" in l]
    return [label in ("1", "positive") for label, _ in rows], [text for _, text in rows]


def positive_probabilities(texts, model=None):
    """p(positive) per text from `lstm-sentiment predict --json` (the binary is $BIN, else
    target/release/lstm-sentiment; the model is `model`, else the built-in one)."""
    binary = os.environ.get("BIN", str(ROOT / "target" / "release" / "lstm-sentiment"))
    command = [binary, "predict", "--json"] + (["--model", str(model)] if model else [])
    out = subprocess.run(command, input="\n".join(texts) + "\n", capture_output=True, text=True,
                         check=True).stdout
    probs = [json.loads(line)["probs"]["positive"] for line in out.splitlines()]
    if len(probs) != len(texts):
        raise SystemExit(f"{len(texts)} texts but {len(probs)} predictions (a text with a newline?)")
    return probs
