#!/usr/bin/env python3
# requirements: scripts/parity/requirements.txt
"""Writes the pretrained-encoder parity fixtures under tests/fixtures/pretrained/<name>/.

Each fixture is a small pretrained encoder directory with random float32 weights
(config.json marked "kind": "pretrained_encoder", tokenizer.json, model.safetensors with
`embedding.*`, `encoder.*` and the objective's `lm.*` or `autoencoder.*` tensors) plus
expected.json holding a batch of texts, their token ids and the PyTorch twin's summed negative
log-likelihood of the words each text's windows predict, with their number
(scripts/parity/torch_twin.py, `PretrainedEncoder.log_likelihood`). tests/integration/pretrain_golden.rs
checks that the Rust side reads the directory and reproduces them.

Regenerate (from the repository root), all of them or the ones named:
    scripts/python.sh scripts/parity/make_golden_pretrained.py [NAME...]
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_twin  # noqa: E402
from make_golden import ROOT, TEXTS, fixtures_main, make_tokenizer, write_expected  # noqa: E402

DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "pretrained")

# Windows of 8 tokens: the longer texts span several, one of them a single token long.
MAX_LENGTH = 8

# name, objective, cell, layers, bidirectional, embedding_dim, hidden
FIXTURES = [
    ("lstm_lm_1l_uni", "lm", "lstm", 1, False, 5, 7),
    ("lstm_lm_1l_bi", "lm", "lstm", 1, True, 6, 5),
    ("gru_lm_2l_uni", "lm", "gru", 2, False, 5, 4),
    ("lstm_autoencoder_2l_bi", "autoencoder", "lstm", 2, True, 5, 6),
    ("gru_autoencoder_1l_uni", "autoencoder", "gru", 1, False, 4, 5),
    ("rnn_autoencoder_1l_bi", "autoencoder", "rnn", 1, True, 5, 4),
]


def make_fixture(out_dir: str, seed: int, spec) -> None:
    name, objective, cell, layers, bidi, emb, hidden = spec
    torch.manual_seed(seed)
    tokenizer = make_tokenizer(True)
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    # In the order lstm-sentiment writes the fields.
    config = {
        "format_version": torch_twin.PRETRAINED_FORMAT_VERSION,
        "kind": torch_twin.PRETRAINED_KIND,
        "objective": objective,
        "cell": cell,
        "vocab_size": vocab_size,
        "embedding_dim": emb,
        "hidden_size": hidden,
        "num_layers": layers,
        "bidirectional": bidi,
        "max_length": MAX_LENGTH,
        "tokenizer": {"lowercase": True, "min_count": 1, "max_vocab": 50000},
    }
    model = torch_twin.PretrainedEncoder(config).float()
    with torch.no_grad():
        model.embedding.weight.mul_(0.5)
        # The output biases start at zero in both implementations; random ones test them.
        bias = model.lm.output_bias if objective == "lm" else model.autoencoder.output_bias
        bias.normal_(0.0, 0.5)
    path = os.path.join(out_dir, name)
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(path, torch_twin.WEIGHTS_FILE))
    tokenizer.save(os.path.join(path, torch_twin.TOKENIZER_FILE), pretty=True)
    with open(os.path.join(path, torch_twin.CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")

    # Reload exactly as a user would, so expected values come from the saved files.
    model, tokenizer, config = torch_twin.load_pretrained_dir(path)
    scores = model.log_likelihood(tokenizer, config, TEXTS)
    ids = [tokenizer.encode(t, add_special_tokens=False).ids for t in TEXTS]
    assert any(len(x) > 2 * MAX_LENGTH for x in ids), "a text of several windows is wanted"
    assert any(len(x) % MAX_LENGTH == 1 for x in ids), "a one-token last window is wanted"
    expected = {
        "generator": "scripts/parity/make_golden_pretrained.py",
        "torch_version": torch.__version__,
        "seed": seed,
        "texts": TEXTS,
        "ids": ids,
        "nll": [nll for nll, _ in scores],
        "predictions": [n for _, n in scores],
    }
    write_expected(path, expected)


def main() -> int:
    return fixtures_main(__doc__, FIXTURES, make_fixture, DEFAULT_OUT, 20240917)


if __name__ == "__main__":
    sys.exit(main())
