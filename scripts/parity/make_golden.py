#!/usr/bin/env python3
# requirements: scripts/parity/requirements.txt
"""Writes the golden-parity fixtures under tests/fixtures/golden/<name>/.

Each fixture is a small model directory with random float32 weights
(config.json, tokenizer.json, model.safetensors) plus expected.json holding
a batch of texts, their token ids, and the PyTorch twin's logits, features
and probabilities for them (scripts/parity/torch_twin.py).
tests/integration/golden.rs checks that the Rust classifier reproduces them.

Regenerate (from the repository root), all of them or the ones named:
    scripts/python.sh scripts/parity/make_golden.py [NAME...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import torch
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_twin  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "golden")

# The vocabulary after [PAD] and [UNK]. Lowercase models see everything lowercased;
# the cased model keeps "Great" and "great" apart.
WORDS = [
    ".", "the", ",", "movie", "film", "a", "was", "good", "bad", "great", "not",
    "and", "plot", "acting", "boring", "!", "it", "'", "s", "i", "loved", "hated",
    "10", "café", "这", "好", "very", "story",
]
CASED_EXTRA = ["Great", "The", "I"]

TEXTS = [
    "The movie was great!",
    "",
    "bad",
    "I loved it, the acting was very good.",
    "Not good. Not good at all: zxqv blorf wibble!",  # unknown words -> [UNK]
    "ＧＲＥＡＴ café 这好 10/10",  # NFKC, accents kept, CJK split, digits split
    "   \t ",  # only whitespace: no tokens
    "boring",
    "unseen",
    " ".join(
        # 80 tokens, longer than max_length (64): truncated
        ("the plot was boring and the acting was bad , but i loved the film ! " * 6).split()[:80]
    ),
    "a good story . a bad story .",
]

# For the models with a pooling or a truncation of their own: texts longer than the limit
# whose two ends differ, one of them a single token over.
LONG_TEXTS = [
    "great film , i loved it ! "
    + "the plot was a story and the acting was a film . " * 7
    + "but it was boring , bad and not good .",
    "a good story . " * 16 + "bad",
]

MAX_LENGTH = 64

# name, cell, layers, bidirectional, embedding_dim, hidden, labels, lowercase[, options]
# options: config.json's pooling, truncation and ngram_buckets, and max_length where not
# MAX_LENGTH. New fixtures go at the end: a fixture's seed is its place in this list.
FIXTURES = [
    ("lstm_1l_uni", "lstm", 1, False, 5, 7, ["negative", "positive"], True),
    ("lstm_2l_bi", "lstm", 2, True, 5, 7, ["negative", "positive"], True),
    ("lstm_1l_bi", "lstm", 1, True, 6, 5, ["negative", "positive"], True),
    ("lstm_3l_bi_3labels", "lstm", 3, True, 5, 4, ["negative", "neutral", "positive"], True),
    ("gru_1l_uni", "gru", 1, False, 5, 7, ["negative", "positive"], True),
    ("gru_2l_bi", "gru", 2, True, 5, 7, ["negative", "positive"], True),
    ("gru_2l_uni_cased_3labels", "gru", 2, False, 6, 5, ["neg", "mixed", "pos"], False),
    ("rnn_1l_uni", "rnn", 1, False, 5, 7, ["negative", "positive"], True),
    ("rnn_2l_bi", "rnn", 2, True, 5, 7, ["negative", "positive"], True),
    ("lstm_1l_bi_max", "lstm", 1, True, 6, 5, ["negative", "positive"], True,
     {"pooling": "max"}),
    ("lstm_2l_bi_mean_tail", "lstm", 2, True, 5, 7, ["negative", "positive"], True,
     {"pooling": "mean", "truncation": "tail"}),
    ("lstm_1l_uni_last_headtail", "lstm", 1, False, 5, 7, ["negative", "positive"], True,
     {"truncation": "head_tail"}),
    ("lstm_1l_uni_lastmax_headtail_63", "lstm", 1, False, 5, 6, ["negative", "positive"], True,
     {"pooling": "last_max", "truncation": "head_tail", "max_length": 63}),
    ("gru_1l_uni_mean_headtail", "gru", 1, False, 5, 7, ["negative", "neutral", "positive"],
     True, {"pooling": "mean", "truncation": "head_tail"}),
    ("gru_2l_bi_lastmax", "gru", 2, True, 5, 4, ["negative", "positive"], True,
     {"pooling": "last_max"}),
    ("rnn_1l_uni_max_tail", "rnn", 1, False, 5, 7, ["negative", "positive"], True,
     {"pooling": "max", "truncation": "tail"}),
    ("rnn_2l_bi_mean", "rnn", 2, True, 4, 5, ["negative", "positive"], True,
     {"pooling": "mean"}),
    # Hashed bigrams: bucket counts a prime, a power of two and one that every pair of the
    # small vocabulary shares with others; a cased vocabulary; both directions.
    ("lstm_1l_uni_ngrams97", "lstm", 1, False, 5, 7, ["negative", "positive"], True,
     {"ngram_buckets": 97}),
    ("gru_2l_bi_ngrams64_max_tail", "gru", 2, True, 5, 6, ["negative", "positive"], True,
     {"ngram_buckets": 64, "pooling": "max", "truncation": "tail"}),
    ("lstm_1l_bi_ngrams1000_cased", "lstm", 1, True, 6, 5, ["neg", "mixed", "pos"], False,
     {"ngram_buckets": 1000}),
    ("rnn_1l_uni_ngrams7_mean", "rnn", 1, False, 4, 5, ["negative", "positive"], True,
     {"ngram_buckets": 7, "pooling": "mean"}),
]


def make_tokenizer(lowercase: bool) -> Tokenizer:
    """The same pipeline src/tokenizer/pipeline.rs builds: NFKC + BERT normalizer (accents kept),
    BERT pre-tokenizer then digit runs, WordLevel with [PAD]=0 and [UNK]=1."""
    words = WORDS + ([] if lowercase else CASED_EXTRA)
    vocab = {"[PAD]": 0, "[UNK]": 1}
    for w in words:
        assert w not in vocab, w
        vocab[w] = len(vocab)
    tokenizer = Tokenizer(WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.NFKC(),
            normalizers.BertNormalizer(
                clean_text=True,
                handle_chinese_chars=True,
                strip_accents=False,
                lowercase=lowercase,
            ),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Digits(individual_digits=False)]
    )
    return tokenizer


def floats(t: torch.Tensor) -> list:
    # float32 -> Python float is exact; json writes the shortest repr of that double.
    return t.to(torch.float32).tolist()


def make_fixture(out_dir: str, seed: int, spec) -> int:
    name, cell, layers, bidi, emb, hidden, labels, lowercase = spec[:8]
    options = spec[8] if len(spec) > 8 else {}
    max_length = options.get("max_length", MAX_LENGTH)
    texts = TEXTS + (LONG_TEXTS if options else [])
    torch.manual_seed(seed)
    tokenizer = make_tokenizer(lowercase)
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    # In the order lstm-sentiment writes the fields, the options only where given.
    config = {"format_version": 0, "cell": cell, "vocab_size": vocab_size}
    config["embedding_dim"] = emb
    if "ngram_buckets" in options:
        config["ngram_buckets"] = options["ngram_buckets"]
    config.update(hidden_size=hidden, num_layers=layers, bidirectional=bidi)
    if "pooling" in options:
        config["pooling"] = options["pooling"]
    config.update(labels=labels, max_length=max_length)
    if "truncation" in options:
        config["truncation"] = options["truncation"]
    config["tokenizer"] = {"lowercase": lowercase, "min_count": 1, "max_vocab": 50000}
    config["format_version"] = torch_twin.format_version(config)
    model = torch_twin.Classifier.from_config(config).float()
    with torch.no_grad():
        # Default init everywhere (uniform +-1/sqrt(hidden) for the recurrent weights),
        # word vectors scaled down from N(0, 1). [PAD]'s row is left random on purpose:
        # padding must never reach a result.
        model.embedding.weight.mul_(0.5)
        if model.ngram_buckets > 0:
            model.ngram_embedding.weight.mul_(0.5)
        # Spread the head so logits differ visibly between texts.
        model.head.weight.mul_(2.0)
    model.eval()

    path = os.path.join(out_dir, name)
    if os.path.exists(path):
        shutil.rmtree(path)
    torch_twin.save_model_dir(path, model, tokenizer, config)

    # Reload exactly as a user would, so expected values come from the saved files.
    model, tokenizer, config = torch_twin.load_model_dir(path)
    ids, logits, features = torch_twin.run(model, tokenizer, config, texts)
    assert any(len(x) == 0 for x in ids), "an empty text is wanted"
    assert max(len(x) for x in ids) == max_length, "a truncated text is wanted"
    assert any(torch_twin.UNK_ID in x for x in ids), "unknown words are wanted"
    probs = torch.softmax(logits, dim=-1)
    expected = {
        "generator": "scripts/parity/make_golden.py",
        "torch_version": torch.__version__,
        "seed": seed,
        "texts": texts,
        "ids": ids,
        "logits": floats(logits),
        "features": floats(features),
        "probs": floats(probs),
    }
    write_expected(path, expected)
    return len(ids)


def write_expected(path, expected):
    with open(os.path.join(path, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")


def fixtures_main(doc, fixtures, make_fixture, default_out, default_seed) -> int:
    """The command line of both fixture scripts: writes every fixture, or the ones named."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--out", default=default_out, help="fixtures directory")
    parser.add_argument("--seed", type=int, default=default_seed)
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these fixtures")
    args = parser.parse_args()
    unknown = set(args.names) - {spec[0] for spec in fixtures}
    if unknown:
        parser.error(f"no fixture named {', '.join(sorted(unknown))}")
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for i, spec in enumerate(fixtures):
        if args.names and spec[0] not in args.names:
            continue
        # A fixture's seed is its place in the list, whichever are made.
        make_fixture(args.out, args.seed + i, spec)
        print(f"wrote {os.path.join(args.out, spec[0])}")
    return 0


def main() -> int:
    return fixtures_main(__doc__, FIXTURES, make_fixture, DEFAULT_OUT, 20240611)


if __name__ == "__main__":
    sys.exit(main())
