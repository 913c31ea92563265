"""Shared fixtures: the command-line tool as the reference, and the texts it is checked on.

LSTM_SENTIMENT_BIN names the lstm-sentiment binary (scripts/test.sh passes the one `cargo test`
built); by default target/debug/lstm-sentiment or target/release/lstm-sentiment of this
repository, whichever exists.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _binary() -> Path:
    given = os.environ.get("LSTM_SENTIMENT_BIN")
    candidates = [Path(given)] if given else [
        ROOT / "target" / "debug" / "lstm-sentiment",
        ROOT / "target" / "release" / "lstm-sentiment",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise RuntimeError(
        f"no lstm-sentiment binary at {', '.join(map(str, candidates))}: run `cargo build` first "
        "or set LSTM_SENTIMENT_BIN"
    )


def cli_predict(texts, tmp_path: Path, model=None):
    """`lstm-sentiment predict --json` on the texts (one per line of a file), in order."""
    for t in texts:
        assert "\n" not in t and "\r" not in t, "the CLI reads one text per line"
    path = tmp_path / "cli-input.txt"
    path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    args = [str(_binary()), "predict", "--json", "--input", str(path)]
    if model is not None:
        args += ["--model", str(model)]
    out = subprocess.run(args, capture_output=True, check=True, text=True, encoding="utf-8")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["text"] for line in lines] == list(texts)
    return lines


def review_texts():
    """The hand-written reviews in the repository, plus texts that test edges."""
    tsv = ROOT / "scripts" / "model" / "everyday_reviews.tsv"
    texts = [line.split("\t", 1)[1] for line in tsv.read_text(encoding="utf-8").splitlines()]
    return texts + [
        "这家店的菜很好吃",
        "送餐太慢了，菜都凉了",
        "GREAT!!!",
        "not bad at all",
        "a",
        "   leading and trailing spaces   ",
        "emoji 😀 and accents: café, naïve",
        " ".join(["the plot was slow but the acting was wonderful"] * 40),
    ]


@pytest.fixture(scope="session")
def texts():
    return review_texts()
