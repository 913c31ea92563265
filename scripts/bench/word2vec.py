#!/usr/bin/env python3
# requirements: scripts/parity/requirements_gensim.txt
"""Speed and quality of `lstm-sentiment word2vec` against gensim's Word2Vec, same corpus, same
settings, same number of threads, in one run.

    cargo build --release
    scripts/python.sh scripts/bench/word2vec.py [--corpus ../shared/data/imdb/train.tsv]
        [--sg] [--threads 2] [--epochs 5] [--dim 100]

The corpus (a labelled TSV's text column, or plain text) is first split into words the way the
classifier's tokenizer splits them (lowercase; letters, digit runs and single punctuation marks),
and written one document per line; both tools then train on that file, so they see the same
words (the vocabulary sizes printed should agree). Speed is corpus words per second of training
(before sub-sampling, all epochs), which excludes reading and counting; wall times including them
are printed too. gensim runs both from a Python list of sentences (its usual use) and from
`corpus_file` (its fastest mode).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gensim
from gensim.models import KeyedVectors, Word2Vec

ROOT = Path(__file__).resolve().parents[2]
WORD = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")
PROBES = ["good", "bad", "excellent", "boring", "actor", "funny", "music", "horror"]


def tokenize(corpus: Path, out: Path) -> int:
    words = 0
    with open(corpus, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
        for line in f:
            text = line.rstrip("\n").split("\t", 1)[-1] if corpus.suffix == ".tsv" else line
            tokens = WORD.findall(text.lower())
            words += len(tokens)
            g.write(" ".join(tokens) + "\n")
    return words


def run_ours(binary: str, corpus: Path, out: Path, a) -> dict:
    args = [binary, "word2vec", "--input", str(corpus), "--input-format", "plain",
            "--out", str(out), "--format", "bin", "--dim", str(a.dim), "--window", str(a.window),
            "--min-count", str(a.min_count), "--negative", str(a.negative),
            "--sample", str(a.sample), "--lr", str(a.lr), "--epochs", str(a.epochs),
            "--threads", str(a.threads), "--seed", "1", "--sg" if a.sg else "--cbow"]
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"lstm-sentiment word2vec failed:\n{done.stderr}")
    vocab = int(re.search(r"vocabulary: (\d+) words", done.stderr).group(1))
    speed = float(re.search(r"\(([\d.]+) words/s\)", done.stderr).group(1))
    return {"words_per_s": speed, "wall": wall, "vocab": vocab,
            "kv": KeyedVectors.load_word2vec_format(str(out), binary=True)}


def run_gensim(corpus: Path, a, from_file: bool) -> dict:
    settings = dict(vector_size=a.dim, window=a.window, min_count=a.min_count,
                    negative=a.negative, hs=0, sample=a.sample, alpha=a.lr, min_alpha=1e-4,
                    sg=int(a.sg), cbow_mean=1, workers=a.threads, seed=1)
    start = time.perf_counter()
    model = Word2Vec(**settings)
    if from_file:
        model.build_vocab(corpus_file=str(corpus))
    else:
        with open(corpus, encoding="utf-8") as f:
            sentences = [line.split() for line in f]
        model.build_vocab(sentences)
    train_start = time.perf_counter()
    if from_file:
        _, raw = model.train(corpus_file=str(corpus), total_words=model.corpus_total_words,
                             total_examples=model.corpus_count, epochs=a.epochs)
    else:
        _, raw = model.train(sentences, total_examples=model.corpus_count, epochs=a.epochs)
    end = time.perf_counter()
    return {"words_per_s": raw / (end - train_start), "wall": end - start,
            "vocab": len(model.wv), "kv": model.wv}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/data/imdb/train.tsv")
    p.add_argument("--binary", default=str(ROOT / "target/release/lstm-sentiment"))
    p.add_argument("--sg", action="store_true", help="skip-gram (default CBOW)")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--lr", type=float, default=0.025)
    p.add_argument("--epochs", type=int, default=5)
    a = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        words = tokenize(a.corpus, corpus)
        print(f"corpus: {a.corpus} ({words} words); {'skip-gram' if a.sg else 'CBOW'}, dim {a.dim}, "
              f"window {a.window}, negative {a.negative}, sample {a.sample}, lr {a.lr}, "
              f"epochs {a.epochs}, threads {a.threads}; gensim {gensim.__version__}; "
              f"{os.cpu_count()} cores")
        results = {
            "lstm-sentiment": run_ours(a.binary, corpus, Path(tmp) / "ours.bin", a),
            "gensim (sentences)": run_gensim(corpus, a, from_file=False),
            "gensim (corpus_file)": run_gensim(corpus, a, from_file=True),
        }

    print(f"\n{'':22} {'vocab':>7} {'train words/s':>14} {'wall s':>7}")
    for name, r in results.items():
        print(f"{name:22} {r['vocab']:7d} {r['words_per_s']:14,.0f} {r['wall']:7.1f}")
    ours = results["lstm-sentiment"]
    for name in ["gensim (sentences)", "gensim (corpus_file)"]:
        print(f"speed ratio lstm-sentiment / {name}: {ours['words_per_s'] / results[name]['words_per_s']:.2f}")

    print("\nnearest neighbours (top 5), and how many of the top 10 the two share:")
    gensim_kv = results["gensim (sentences)"]["kv"]
    for word in PROBES:
        if word not in ours["kv"] or word not in gensim_kv:
            continue
        mine = [w for w, _ in ours["kv"].most_similar(word, topn=10)]
        theirs = [w for w, _ in gensim_kv.most_similar(word, topn=10)]
        print(f"  {word:10} ours: {', '.join(mine[:5])}")
        print(f"  {'':10} gensim: {', '.join(theirs[:5])}  (shared {len(set(mine) & set(theirs))}/10)")


if __name__ == "__main__":
    main()
