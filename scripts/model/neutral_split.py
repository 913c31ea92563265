#!/usr/bin/env python3
# requirements: scripts/model/requirements_builtin.txt
"""Splits an English labelled file by whether VADER finds any sentiment in a text, and scores a
model on each part: how much of a file's error lies in texts that carry no sentiment word at all
(hotel review titles such as "Charleston" or "Spring Break 2016"), where only a prior can answer.

    scripts/python.sh scripts/model/neutral_split.py [--model DIR] FILE.tsv

FILE holds `label<TAB>text` lines, labels `1`/`0`. A text is neutral when VADER's compound score
is within 0.05 of zero (VADER's own threshold for "neutral"). Prints, for the model (default:
the built-in one; the binary is $BIN, else target/release/lstm-sentiment): the neutral share,
the accuracy on each part, the positive share among the neutral texts, the accuracy the model
would have if every neutral text were answered positive, and VADER's own accuracy on each part
and in all (compound >= 0 -> positive, as scripts/model/baselines.py scores it).
"""

import argparse
import json
import os
import subprocess
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ROOT = Path(__file__).resolve().parents[2]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file")
    p.add_argument("--model", help="model directory (default: the built-in model)")
    a = p.parse_args()
    rows = [l.split("\t", 1) for l in Path(a.file).read_text(encoding="utf-8").splitlines() if "\t" in l]
    gold = [label == "1" for label, _ in rows]
    texts = [text for _, text in rows]
    binary = os.environ.get("BIN", str(ROOT / "target" / "release" / "lstm-sentiment"))
    command = [binary, "predict", "--json"] + (["--model", a.model] if a.model else [])
    out = subprocess.run(command, input="\n".join(texts) + "\n", capture_output=True, text=True,
                         check=True).stdout
    said = [json.loads(line)["label"] == "positive" for line in out.splitlines()]
    if len(said) != len(texts):
        raise SystemExit(f"{len(texts)} texts but {len(said)} predictions (a text with a newline?)")
    vader = SentimentIntensityAnalyzer()
    compound = [vader.polarity_scores(t)["compound"] for t in texts]
    neutral = [abs(c) < 0.05 for c in compound]

    def accuracy(answers, part):
        pairs = [(x, g) for x, g, n in zip(answers, gold, neutral) if part(n)]
        return sum(x == g for x, g in pairs) / max(1, len(pairs))

    n = len(texts)
    print(f"texts                                {n}")
    print(f"neutral share                        {sum(neutral) / n:.4f}")
    print(f"model accuracy, neutral texts        {accuracy(said, bool):.4f}")
    print(f"model accuracy, the others           {accuracy(said, lambda x: not x):.4f}")
    print(f"positive share of the neutral texts  {accuracy([True] * n, bool):.4f}")
    prior = [s or m for s, m in zip(neutral, said)]
    print(f"model, neutral answered positive     {accuracy(prior, lambda _: True):.4f}")
    vader_says = [c >= 0 for c in compound]
    print(f"VADER, neutral texts                 {accuracy(vader_says, bool):.4f}")
    print(f"VADER, the others                    {accuracy(vader_says, lambda x: not x):.4f}")
    print(f"VADER (compound >= 0 -> positive)    {accuracy(vader_says, lambda _: True):.4f}")


if __name__ == "__main__":
    main()
