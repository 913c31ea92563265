#!/usr/bin/env python3
"""What moving a model's decision toward `positive` does on labelled files: each file's accuracy
when a text is called positive once its log-odds plus SHIFT is above zero (SHIFT 0 is the
model as it is; log 3 = 1.1 is the shift a prior of 75% positive would give).

    scripts/python.sh scripts/model/prior_shift.py [--model DIR] [--shifts 0,0.25,0.5,1]
        FILE.tsv ...

Each FILE holds `label<TAB>text` lines (labels `1`/`0` or `positive`/`negative`). The model is
the built-in one unless --model says; the binary is $BIN, else target/release/lstm-sentiment.
Prints one row per shift, one column per file, and the mean of the files given.
"""

import argparse
import math
from pathlib import Path

from predictions import positive_probabilities, read_labelled


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--model", help="model directory (default: the built-in model)")
    parser.add_argument("--shifts", default="0,0.25,0.5,0.75,1")
    a = parser.parse_args()
    shifts = [float(s) for s in a.shifts.split(",")]
    scored = []
    for path in a.files:
        gold, texts = read_labelled(path)
        probs = positive_probabilities(texts, a.model)
        odds = [math.log(max(q, 1e-12) / max(1 - q, 1e-12)) for q in probs]
        scored.append((gold, odds))
    names = [Path(f).parent.name + "/" + Path(f).stem for f in a.files]
    print("| shift | " + " | ".join(names) + " | mean |")
    print("|---" * (len(names) + 2) + "|")
    for shift in shifts:
        accs = [sum((o + shift > 0) == g for g, o in zip(gold, odds)) / len(gold)
                for gold, odds in scored]
        cells = " | ".join(f"{x:.4f}" for x in accs)
        print(f"| {shift:g} | {cells} | {sum(accs) / len(accs):.4f} |")


if __name__ == "__main__":
    main()
