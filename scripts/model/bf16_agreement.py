#!/usr/bin/env python3
"""How far `--bf16` predictions are from float32 ones: for each labelled file, the accuracy both
ways, how many labels differ, and the largest and mean change in the positive probability.

    cargo build --release
    scripts/python.sh scripts/model/bf16_agreement.py [--model DIR] [--limit N] [FILE.tsv ...]

Default files: SST-2 dev and test, MR test, the takeaway reviews' test split and the first
--limit IMDB training reviews (long texts, where rounding has the most steps to add up), all
from ../shared/data. The binary is $BIN, else target/release/lstm-sentiment. Standard library
only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from predictions import predict

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
DEFAULT = ["sst2/dev.tsv", "sst2/test.tsv", "mr/test.tsv", "zh-waimai/test.tsv", "imdb/train.tsv"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*")
    p.add_argument("--model", help="model directory; default: the built-in model")
    p.add_argument("--limit", type=int, default=2000, help="lines read per file")
    args = p.parse_args()
    files = args.files or [str(DATA / f) for f in DEFAULT]
    print(f"{'file':28} {'texts':>6} {'acc f32':>8} {'acc bf16':>8} {'labels differ':>13} "
          f"{'max |dp|':>9} {'mean |dp|':>9}")
    for f in files:
        rows = [line.rstrip("\n").split("\t", 1) for line in open(f, encoding="utf-8")]
        rows = [r for r in rows if len(r) == 2 and r[1].strip()][: args.limit]
        texts = [r[1].replace("\n", " ") for r in rows]
        gold = [r[0] for r in rows]
        a, b = predict(texts, args.model), predict(texts, args.model, ["--bf16"])
        key = sorted(a[0]["probs"])[-1]  # the last label, "positive" for the built-in model
        dp = [abs(x["probs"][key] - y["probs"][key]) for x, y in zip(a, b)]
        differ = sum(x["label"] != y["label"] for x, y in zip(a, b))
        # The files' labels are 0/1; the built-in model's are negative/positive.
        labels = set(a[0]["probs"])
        names = {"0": "negative", "1": "positive"}
        gold = [g if g in labels else names.get(g, g) for g in gold]
        acc = [sum(g == x["label"] for g, x in zip(gold, preds)) / len(gold) for preds in (a, b)]
        name = "/".join(Path(f).parts[-2:])
        print(f"{name:28} {len(texts):>6} {acc[0]:>8.4f} {acc[1]:>8.4f} {differ:>13} "
              f"{max(dp):>9.2e} {sum(dp) / len(dp):>9.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
