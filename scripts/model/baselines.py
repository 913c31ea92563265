#!/usr/bin/env python3
# requirements: scripts/model/requirements_baselines.txt
"""Lexicon baselines that need no training, scored on labelled files: VADER and TextBlob for
English, SnowNLP for Chinese. Prints accuracy and macro-F1 per file and method.

    scripts/python.sh scripts/model/baselines.py [--lang en|zh] [--json] [--fasttext TRAIN.tsv]
        FILE.tsv ...

Each FILE holds `label<TAB>text` lines, labels `1`/`0` or `positive`/`negative`; blank lines are
skipped. A file's language is the one most of its texts are written in (a text with a CJK
character counts as Chinese) unless --lang says. The rules that turn a score into a label:

    VADER     compound >= 0      -> positive   (vaderSentiment's compound score, -1..1)
    TextBlob  polarity >= 0      -> positive   (PatternAnalyzer polarity, -1..1)
    SnowNLP   sentiments >= 0.5  -> positive   (naive Bayes probability of positive, 0..1)

A score of exactly 0 (no sentiment word found) counts as positive in both English rules.

--fasttext TRAIN.tsv adds fastText for both languages: supervised, word bigrams, 10 epochs, 2
threads, seed 1 (the settings of scripts/experiments/run.py), trained on TRAIN.tsv (for the
built-in model's side-by-side table: the training file `build_builtin.py --dry-run` writes). It
reads the tokens lstm-sentiment's tokenizer sees: lowercased, with each CJK character and each
punctuation mark its own token.
SnowNLP's model was trained on the reviews that ship with it (snownlp/sentiment/pos.txt and
neg.txt: hotel, book and computer reviews): 702 of zh-shopping test's 5,276 texts are among them
(compared after lowercasing and keeping only letters and digits), so its figure there is a
little flattering (0.8463 on the other 4,574 against 0.8501 on all).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

LABELS = {"1": 1, "positive": 1, "0": 0, "negative": 0}
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def read_rows(path: str) -> list[tuple[int, str]]:
    """The (gold label, text) pairs of one file, or exit naming the first line that is not one."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            label, tab, text = line.partition("\t")
            if not tab or label not in LABELS or not text.strip():
                sys.exit(f"{path}:{n}: expected `LABEL<TAB>TEXT` with LABEL one of "
                         f"{'/'.join(LABELS)}, found {line[:60]!r}")
            rows.append((LABELS[label], text))
    if not rows:
        sys.exit(f"{path}: no labelled lines")
    return rows


def language(texts: list[str]) -> str:
    chinese = sum(bool(CJK.search(t)) for t in texts)
    return "zh" if chinese * 2 > len(texts) else "en"


def vader() -> Callable[[str], int]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return lambda text: int(analyzer.polarity_scores(text)["compound"] >= 0)


def textblob() -> Callable[[str], int]:
    from textblob import TextBlob

    return lambda text: int(TextBlob(text).sentiment.polarity >= 0)


def snownlp() -> Callable[[str], int]:
    from snownlp import SnowNLP

    return lambda text: int(SnowNLP(text).sentiments >= 0.5)


def experiments_fasttext_line() -> Callable[[str], str]:
    """scripts/experiments/run.py's `fasttext_line`: the tokens its fastText runs read."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "experiments" / "run.py"
    spec = importlib.util.spec_from_file_location("experiments_run", path)
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    return run.fasttext_line


def fasttext_method(train: str) -> Callable[[], Callable[[str], int]]:
    def factory() -> Callable[[str], int]:
        import tempfile

        import fasttext

        fasttext_line = experiments_fasttext_line()
        with tempfile.NamedTemporaryFile("w", suffix=".ft", encoding="utf-8") as f:
            for label, text in read_rows(train):
                f.write(f"__label__{label} {fasttext_line(text)}\n")
            f.flush()
            model = fasttext.train_supervised(f.name, wordNgrams=2, epoch=10, thread=2, seed=1,
                                              verbose=0)
        return lambda text: int(model.predict(fasttext_line(text))[0][0] == "__label__1")

    return factory


# name, rule, factory, per language
METHODS = {
    "en": [("VADER", "compound >= 0", vader), ("TextBlob", "polarity >= 0", textblob)],
    "zh": [("SnowNLP", "sentiments >= 0.5", snownlp)],
}


def scores(gold: list[int], pred: list[int]) -> tuple[float, float]:
    """Accuracy and macro-F1 (the mean of both labels' F1; a label never predicted nor present
    scores 0)."""
    acc = sum(g == p for g, p in zip(gold, pred)) / len(gold)
    f1s = []
    for label in (0, 1):
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return acc, sum(f1s) / 2


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", metavar="FILE.tsv")
    p.add_argument("--lang", choices=sorted(METHODS),
                   help="language of every file (default: detected per file)")
    p.add_argument("--json", action="store_true", help="one JSON object per file and method")
    p.add_argument("--fasttext", metavar="TRAIN.tsv", help="also fastText trained on this file")
    args = p.parse_args()
    if args.fasttext:
        made_once = fasttext_method(args.fasttext)
        for lang in METHODS:
            METHODS[lang].append(("fastText", "trained", made_once))
    files = [(path, read_rows(path)) for path in args.files]
    made: dict[str, Callable[[str], int]] = {}
    if not args.json:
        print(f"{'file':36} {'lang':4} {'n':>6} {'method':9} {'rule':18} "
              f"{'accuracy':>8} {'macro-F1':>8}")
    for path, rows in files:
        gold = [g for g, _ in rows]
        lang = args.lang or language([t for _, t in rows])
        for name, rule, factory in METHODS[lang]:
            if name not in made:
                made[name] = factory()
            predict = made[name]
            acc, f1 = scores(gold, [predict(t) for _, t in rows])
            if args.json:
                print(json.dumps({"file": path, "lang": lang, "n": len(rows), "method": name,
                                  "rule": rule, "accuracy": round(acc, 4),
                                  "macro_f1": round(f1, 4)}))
            else:
                shown = "/".join(Path(path).parts[-2:])
                print(f"{shown:36} {lang:4} {len(rows):>6} {name:9} {rule:18} "
                      f"{acc:>8.4f} {f1:>8.4f}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
