#!/usr/bin/env python3
# requirements: scripts/experiments/requirements.txt
"""Trains recipes on data sets over seeds, scores each run, and appends one JSON line per run.

    scripts/python.sh scripts/experiments/run.py train --sets sst2,mr --recipes defaults,bi \
        --seeds 1,2,3 --out target/experiments/dev.jsonl
    scripts/python.sh scripts/experiments/run.py train --sets all --recipes defaults --seeds 1,2,3 \
        --test --fasttext --out target/experiments/test.jsonl
    scripts/python.sh scripts/experiments/run.py train --sets mr --recipes defaults,bi_max_ng \
        --twin --seeds 1,2,3 --out target/experiments/twin.jsonl
    scripts/python.sh scripts/experiments/run.py summary target/experiments/dev.jsonl

Two modes keep test files for the end:
- dev (the default): each set's training file is split once, by a fixed seed, into a fit part
  (90%, stratified by label) and a dev part (10%); a run trains on the fit part (so `train`
  holds out its own 10% of it for choosing the epoch, as it does for users) and is scored on the
  dev part. Choose recipes here. SST-2 uses its own dev.tsv as the dev part.
- test (`--test`): a run trains on the whole training file, as a user would, and is scored on
  the set's test file. Run it once, for the recipe chosen on dev.

A recipe is a name from recipes.json (beside this script) or NAME=FLAGS given inline, e.g.
`--recipes 'bi=--bidirectional,lr3=--lr 0.003'`; ',' separates recipes, so inline flags cannot
hold commas. `fasttext` as a recipe (or --fasttext) runs fastText (supervised, word bigrams, 10
epochs, 2 threads: the settings of its README's sentiment example) on the same files.
`NAME@torch` (a name from recipes.json), or --twin for every recipe, trains the recipe's flags
with the PyTorch twin (scripts/parity/train_twin.py, through scripts/python.sh) instead of our
binary, on the same files and seeds; our `eval` scores both. Its seconds include starting
Python and importing torch (a second or two). `--flags '...'` adds flags after every recipe's
own (ours and the twin's), e.g. `--flags '--ema 0.99'` to score every run by the moving
average of its weights.

The binary is $BIN, else target/release/lstm-sentiment (built when missing). Data: $DATA, else
../shared/data beside the repository. Splits are written under target/experiments/splits/.
"""

import argparse
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("DATA", ROOT.parent / "shared" / "data"))
BIN = Path(os.environ.get("BIN", ROOT / "target" / "release" / "lstm-sentiment"))
SPLITS = ROOT / "target" / "experiments" / "splits"
RECIPES = Path(__file__).with_name("recipes.json")
TWIN = ROOT / "scripts" / "parity" / "train_twin.py"
DEV_FRACTION = 0.1
SPLIT_SEED = 20261128

# name -> (training file, rows of it to use, test file or (file, rows)), rows as a slice.
SETS = {
    "en-electronics": ("en-electronics/train.tsv", None, "en-electronics/test.tsv"),
    "sst2": ("sst2/train.tsv", None, "sst2/test.tsv"),
    "mr": ("mr/train.tsv", None, "mr/test.tsv"),
    "zh-waimai": ("zh-waimai/train.tsv", None, "zh-waimai/test.tsv"),
    "zh-shopping": ("zh-shopping/train.tsv", None, "zh-shopping/test.tsv"),
    # No official test split here: the last 5,000 rows are the test part, the first 20,000 train.
    "imdb": ("imdb/train.tsv", slice(0, 20000), ("imdb/train.tsv", slice(20000, 25000))),
}
# The official dev file of a set, used as its dev part instead of a split of train.
OFFICIAL_DEV = {"sst2": "sst2/dev.tsv"}


def read_rows(path, rows=None):
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return lines[rows] if rows else lines


def write_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    # One temporary name per process: runs started together write the same splits.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)
    return path


def stratified_split(rows, fraction, seed):
    """(fit, dev): `fraction` of each label's rows go to dev, chosen by `seed`."""
    by_label = {}
    for row in rows:
        by_label.setdefault(row.split("\t", 1)[0], []).append(row)
    rng = random.Random(seed)
    fit, dev = [], []
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        cut = round(len(group) * fraction)
        dev += group[:cut]
        fit += group[cut:]
    rng.shuffle(fit)
    rng.shuffle(dev)
    return fit, dev


def files_for(name, mode):
    """(train file, score file) of set `name` in `mode` ('dev' or 'test')."""
    train, rows, test = SETS[name]
    folder = SPLITS / name
    all_train = read_rows(DATA / train, rows)
    if mode == "test":
        if isinstance(test, tuple):
            test_path = write_rows(folder / "test.tsv", read_rows(DATA / test[0], test[1]))
        else:
            test_path = DATA / test
        train_path = write_rows(folder / "train.tsv", all_train) if rows else DATA / train
        return train_path, test_path
    if name in OFFICIAL_DEV:
        return DATA / train, DATA / OFFICIAL_DEV[name]
    fit, dev = stratified_split(all_train, DEV_FRACTION, SPLIT_SEED)
    return write_rows(folder / "fit.tsv", fit), write_rows(folder / "dev.tsv", dev)


TWIN_SUFFIX = "@torch"


def load_recipes(spec, twin=False):
    """(name, flags, trainer) per recipe, trainer `ours`, `torch` or `fasttext`; with `twin`, each
    recipe of ours is followed by the same flags through the PyTorch twin, as NAME@torch."""
    known = json.loads(RECIPES.read_text())
    recipes = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        base = item.removesuffix(TWIN_SUFFIX)
        trainer = "torch" if base != item else "ours"
        if "=" in item:
            name, flags = item.split("=", 1)
            recipes.append((name, shlex.split(flags), "ours"))
        elif item == "fasttext":
            recipes.append(("fasttext", None, "fasttext"))
        elif base in known:
            recipes.append((item, shlex.split(known[base]["flags"]), trainer))
        else:
            sys.exit(f"run.py: unknown recipe `{item}` (recipes.json has {', '.join(known)})")
    if twin:
        recipes = [r for name, flags, trainer in recipes for r in
                   [(name, flags, trainer)] + ([(name + TWIN_SUFFIX, flags, "torch")]
                                               if trainer == "ours" else [])]
    return recipes


def ensure_binary():
    if not BIN.exists():
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)


def eval_json(model, data):
    out = subprocess.run(
        [str(BIN), "eval", "--model", str(model), "--data", str(data), "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def run_ours(flags, seed, train_path, score_path, work, twin=False):
    """Trains with our binary, or with `twin` through the PyTorch twin, and scores the model
    with our `eval`."""
    out = work / "model"
    trainer = [str(ROOT / "scripts" / "python.sh"), str(TWIN)] if twin else [str(BIN), "train"]
    cmd = [*trainer, "--train", str(train_path), "--out", str(out), "--seed", str(seed),
           "--no-checkpoint", "-q", *flags]
    start = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "BIN": str(BIN)})
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{done.stderr}")
    scored = eval_json(out, score_path)
    training = json.loads((out / "config.json").read_text()).get("training") or {}
    return {
        "accuracy": scored["accuracy"],
        "macro_f1": scored["macro_f1"],
        "train_seconds": round(seconds, 2),
        "best_epoch": training.get("best_epoch"),
        "epochs_run": len(training.get("epochs", [])),
    }


# fastText splits on whitespace only: give it the words, punctuation and CJK characters that our
# tokenizer sees, lowercased, so both read the same tokens.
CJK_OR_PUNCT = re.compile(r"([\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\w\s])")


def fasttext_line(text):
    return " ".join(CJK_OR_PUNCT.sub(r" \1 ", text.lower()).split())


def run_fasttext(seed, train_path, score_path, work):
    import fasttext  # noqa: PLC0415 (only this recipe needs it)

    def convert(path, dest):
        rows = [r.split("\t", 1) for r in read_rows(path) if "\t" in r]
        dest.write_text("".join(f"__label__{l} {fasttext_line(t)}\n" for l, t in rows),
                        encoding="utf-8")
        return rows

    train_ft = work / "train.ft"
    convert(train_path, train_ft)
    start = time.monotonic()
    model = fasttext.train_supervised(str(train_ft), wordNgrams=2, epoch=10, thread=2,
                                      seed=seed, verbose=0)
    seconds = time.monotonic() - start
    rows = [r.split("\t", 1) for r in read_rows(score_path) if "\t" in r]
    predicted, _ = model.predict([fasttext_line(t) for _, t in rows])
    gold = [l for l, _ in rows]
    guess = [p[0].removeprefix("__label__") for p in predicted]
    return {
        "accuracy": sum(g == p for g, p in zip(gold, guess)) / len(gold),
        "macro_f1": macro_f1(gold, guess),
        "train_seconds": round(seconds, 2),
    }


def macro_f1(gold, guess):
    scores = []
    for label in sorted(set(gold)):
        tp = sum(g == label and p == label for g, p in zip(gold, guess))
        fp = sum(g != label and p == label for g, p in zip(gold, guess))
        fn = sum(g == label and p != label for g, p in zip(gold, guess))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def machine():
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def git_commit():
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return done.stdout.strip() + ("+changes" if dirty else "")


def train_command(args):
    sets = list(SETS) if args.sets == "all" else args.sets.split(",")
    for name in sets:
        if name not in SETS:
            sys.exit(f"run.py: unknown set `{name}` (sets: {', '.join(SETS)})")
    recipes = load_recipes(args.recipes + (",fasttext" if args.fasttext else ""), args.twin)
    extra = shlex.split(args.flags)
    recipes = [(name, None if flags is None else flags + extra, trainer)
               for name, flags, trainer in recipes]
    if any(flags is not None for _, flags, _ in recipes):
        ensure_binary()
    seeds = [int(s) for s in args.seeds.split(",")]
    mode = "test" if args.test else "dev"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    context = {"commit": git_commit(), "machine": machine(), "mode": mode}
    for name in sets:
        train_path, score_path = files_for(name, mode)
        for recipe, flags, trainer in recipes:
            for seed in seeds:
                with tempfile.TemporaryDirectory() as tmp:
                    work = Path(tmp)
                    if flags is None:
                        result = run_fasttext(seed, train_path, score_path, work)
                    else:
                        result = run_ours(flags, seed, train_path, score_path, work,
                                          twin=trainer == "torch")
                line = {**context, "set": name, "recipe": recipe, "trainer": trainer,
                        "flags": flags, "seed": seed, **result}
                with out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(line) + "\n")
                print(f"{name:15} {recipe:20} seed {seed}: accuracy {result['accuracy']:.4f} "
                      f"macro-F1 {result['macro_f1']:.4f} ({result['train_seconds']:.0f} s)",
                      flush=True)


def summary_command(args):
    """Mean and spread (sample standard deviation) over seeds, one table per mode."""
    runs = [json.loads(l) for p in args.files for l in Path(p).read_text().splitlines() if l]
    for mode in sorted({r["mode"] for r in runs}):
        chosen = [r for r in runs if r["mode"] == mode]
        sets = list(dict.fromkeys(r["set"] for r in chosen))
        recipes = list(dict.fromkeys(r["recipe"] for r in chosen))
        metric = args.metric
        print(f"\n{mode} ({metric}, mean ± spread over seeds; seconds: mean training time)\n")
        print("| recipe | " + " | ".join(sets) + " | mean |")
        print("|---" * (len(sets) + 2) + "|")
        for recipe in recipes:
            cells, means = [], []
            for name in sets:
                vals = [r[metric] for r in chosen if r["set"] == name and r["recipe"] == recipe]
                secs = [r["train_seconds"] for r in chosen if r["set"] == name and r["recipe"] == recipe]
                if not vals:
                    cells.append("")
                    continue
                mean = statistics.mean(vals)
                spread = statistics.stdev(vals) if len(vals) > 1 else 0.0
                means.append(mean)
                cells.append(f"{mean:.4f} ± {spread:.4f} ({len(vals)}; {statistics.mean(secs):.0f} s)")
            overall = f"{statistics.mean(means):.4f}" if len(means) == len(sets) else ""
            print(f"| {recipe} | " + " | ".join(cells) + f" | {overall} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train and score recipes, appending JSON lines")
    t.add_argument("--sets", default="all", help=f"comma-separated, or all: {', '.join(SETS)}")
    t.add_argument("--recipes", default="defaults", help="names from recipes.json or NAME=FLAGS")
    t.add_argument("--seeds", default="1,2,3")
    t.add_argument("--test", action="store_true", help="train on all of train, score on test")
    t.add_argument("--fasttext", action="store_true", help="also run fastText")
    t.add_argument("--twin", action="store_true",
                   help="also train every recipe with the PyTorch twin, as NAME@torch")
    t.add_argument("--flags", default="", help="flags added to every recipe but fastText")
    t.add_argument("--out", required=True, help="JSON lines file to append to")
    s = sub.add_parser("summary", help="tables of mean and spread over seeds")
    s.add_argument("files", nargs="+")
    s.add_argument("--metric", default="accuracy", choices=["accuracy", "macro_f1"])
    args = parser.parse_args()
    {"train": train_command, "summary": summary_command}[args.command](args)


if __name__ == "__main__":
    main()
