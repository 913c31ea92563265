#!/usr/bin/env python3
# requirements: scripts/parity/requirements_gensim.txt
"""Checks that vector files written by `lstm-sentiment` load in gensim, unchanged.

    cargo build --release
    scripts/python.sh scripts/parity/check_gensim_load.py [--binary target/release/lstm-sentiment]

It trains word vectors with `word2vec` on a small corpus and a tiny classifier with `train`,
writes both with `word2vec` / `export-embeddings` in every format (binary, laid out as word2vec.c
lays it out; text; GloVe), loads each with `KeyedVectors.load_word2vec_format`, and checks:
the header's counts, that every format gives the same words and bit-identical vectors, and that
gensim's `most_similar` agrees with `lstm-sentiment similar --json`. Prints OK or what differs.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import gensim
import numpy as np
from gensim.models import KeyedVectors

ROOT = Path(__file__).resolve().parents[2]
# An exported classifier table has an all-zero [PAD] row; gensim's most_similar divides by its norm.
warnings.filterwarnings("ignore", message="invalid value encountered in divide")
FORMATS = {"bin": dict(binary=True), "text": dict(binary=False), "glove": dict(binary=False, no_header=True)}


def corpus_lines():
    # Two topics that never share a line, plus non-ASCII words and punctuation.
    topics = [["good", "great", "lovely", "café", "naïve", "superb"],
              ["bad", "awful", "boring", "这", "很", "poor"]]
    state = 1
    for i in range(600):
        words = []
        for _ in range(10):
            state = (state * 1103515245 + 12345) % 2**31
            words.append(topics[i % 2][state % 6])
        yield " ".join(words) + ("!" if i % 5 == 0 else "")


def run(binary, *args, cwd):
    done = subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def check(name, files, binary, cwd, problems, query):
    loaded = {}
    for fmt, path in files.items():
        kwargs = FORMATS["bin" if fmt.startswith("bin") else fmt]
        try:
            loaded[fmt] = KeyedVectors.load_word2vec_format(str(path), **kwargs)
        except Exception as e:  # noqa: BLE001 - any failure to load is the finding
            problems.append(f"{name} {fmt}: gensim cannot load {path.name}: {e}")
    if not loaded:
        return
    first_fmt, first = next(iter(loaded.items()))
    with open(files["text"], encoding="utf-8") as f:
        count, dim = map(int, f.readline().split())
    if (len(first), first.vector_size) != (count, dim):
        problems.append(f"{name}: header says {count}x{dim}, gensim has {len(first)}x{first.vector_size}")
    for fmt, kv in loaded.items():
        if kv.index_to_key != first.index_to_key:
            problems.append(f"{name} {fmt}: words differ from {first_fmt}")
        elif not np.array_equal(kv.vectors.view(np.uint32), first.vectors.view(np.uint32)):
            diff = np.abs(kv.vectors - first.vectors).max()
            problems.append(f"{name} {fmt}: vectors differ from {first_fmt} (max {diff})")
    # Our neighbours against gensim's, on the binary file.
    ours = json.loads(run(binary, "similar", query, "--vectors", str(files["bin"]), "-k", "5", "--json", cwd=cwd))
    theirs = first.most_similar(query, topn=5)
    for mine, (word, sim) in zip(ours["neighbours"], theirs):
        if mine["word"] != word or abs(mine["similarity"] - sim) > 1e-5:
            problems.append(f"{name}: similar {query}: ours {ours['neighbours']}, gensim {theirs}")
            break
    print(f"{name}: {len(first)} words x {first.vector_size}, formats {', '.join(loaded)}; "
          f"most_similar({query!r}) = {[w for w, _ in theirs]}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=str(ROOT / "target/release/lstm-sentiment"))
    binary = str(Path(p.parse_args().binary).resolve())  # commands run in a temporary folder
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "corpus.txt").write_text("\n".join(corpus_lines()) + "\n", encoding="utf-8")
        files = {}
        for fmt in FORMATS:
            out = d / f"w2v.{fmt}"
            run(binary, "word2vec", "--input", "corpus.txt", "--out", out.name, "--format", fmt,
                "--dim", "12", "--min-count", "1", "--threads", "1", "--seed", "3", "-q", cwd=d)
            files[fmt] = out
        check("word2vec", files, binary, d, problems, "good")

        tsv = "".join(f"{i % 2}\t{line}\n" for i, line in enumerate(corpus_lines()))
        (d / "train.tsv").write_text(tsv, encoding="utf-8")
        run(binary, "train", "--train", "train.tsv", "--out", "model", "--embedding-dim", "10",
            "--hidden", "8", "--epochs", "1", "-q", cwd=d)
        files = {}
        for fmt in FORMATS:
            out = d / f"model.{fmt}"
            run(binary, "export-embeddings", "--model", "model", "--out", out.name, "--format", fmt, cwd=d)
            files[fmt] = out
        check("export-embeddings", files, binary, d, problems, "good")

    print(f"gensim {gensim.__version__}: " + ("OK" if not problems else "DIFFERENCES:\n  " + "\n  ".join(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
