#!/usr/bin/env python3
# requirements: scripts/parity/requirements.txt
"""A PyTorch twin of lstm-sentiment's classifier, for parity checks.

It reads and writes the same model directory (config.json, tokenizer.json,
model.safetensors) with no renaming: the safetensors names are exactly the
state_dict of `Classifier` below (`embedding`, `encoder`, `head`).

The network: token ids -> nn.Embedding (plus, with config.json's `ngram_buckets`
K, a second nn.Embedding of K rows read at each token's hashed bigram: see
`bucket_ids`) -> nn.LSTM / nn.GRU / nn.RNN (tanh),
batch_first, stacked, optionally bidirectional -> the last layer's final hidden
state(s) at each text's own length (forward, then reverse), or with config.json's
`pooling` the max (`max`) or mean (`mean`) of its hidden states over the text's
steps, or the final state and the max side by side (`last_max`) -> nn.Linear ->
logits. Texts of different lengths go through pack_padded_sequence, so padding
never changes a result and the reverse direction reads each text from its last
token to its first. Empty texts (no tokens) keep the zero initial state, and
every pooling of them is zero, as on the Rust side. Texts longer than
`max_length` tokens keep the first ones, or with `truncation` the last ones
(`tail`) or the first half of the limit (rounded up) and the rest from the end
(`head_tail`).

A pretrained encoder directory (`lstm-sentiment pretrain`) loads as `PretrainedEncoder`:
the same `embedding` and `encoder`, plus the objective's tensors under `lm` or `autoencoder`;
`classifier_from_pretrained` starts a classifier from it as `train --init` does, and a
fine-tuned model is an ordinary classifier directory.

Usage:
    scripts/python.sh scripts/parity/torch_twin.py predict --model DIR "some text" "another text"
    scripts/python.sh scripts/parity/torch_twin.py predict --model DIR --input texts.txt
    scripts/python.sh scripts/parity/torch_twin.py embed --model DIR "some text"
    scripts/python.sh scripts/parity/torch_twin.py score --model PRETRAINED_DIR "some text"

Requirements: scripts/parity/requirements.txt (torch, safetensors, tokenizers, numpy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Iterable, Sequence

import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "model.safetensors"
# The newest format read; version 1 is written while pooling, truncation and ngram_buckets
# keep their defaults (see format_version).
FORMAT_VERSION = 3
POOLINGS = ("last", "max", "mean", "last_max")
TRUNCATIONS = ("head", "tail", "head_tail")
PAD_ID = 0
UNK_ID = 1
# A pretrained encoder directory's config.json says "kind": PRETRAINED_KIND.
PRETRAINED_KIND = "pretrained_encoder"
PRETRAINED_FORMAT_VERSION = 1

CELLS = {
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "rnn": nn.RNN,
}


def format_version(config: dict) -> int:
    """The oldest format that holds `config`: 3 with ngram_buckets, else 1 while pooling and
    truncation keep their defaults (and are left out), else 2."""
    if config.get("ngram_buckets", 0) > 0:
        return 3
    plain = config.get("pooling", "last") == "last" and config.get("truncation", "head") == "head"
    return 1 if plain else 2


def bucket_ids(ids: torch.Tensor, buckets: int) -> torch.Tensor:
    """The hashed bigram bucket of every token of ids (batch, time) int64, as src/ngram.rs
    computes it: the previous id (PAD_ID before the first) times 2654435761, exclusive-or the
    id times 2246822519, modulo `buckets`. Ids are below 2^31 and the factors below 2^32, so
    nothing overflows int64. Padding positions get a bucket too; nothing reads them."""
    previous = torch.cat([torch.full_like(ids[:, :1], PAD_ID), ids[:, :-1]], dim=1)
    return ((previous * 2654435761) ^ (ids * 2246822519)) % buckets


class Classifier(nn.Module):
    """embedding -> encoder -> final hidden state(s) or a pooling of every step's -> head."""

    def __init__(
        self,
        cell: str,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        num_labels: int,
        pooling: str = "last",
        ngram_buckets: int = 0,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r} (expected lstm, gru or rnn)")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r} (expected one of {POOLINGS})")
        self.cell = cell
        self.pooling = pooling
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.ngram_buckets = ngram_buckets
        if ngram_buckets > 0:
            self.ngram_embedding = nn.Embedding(ngram_buckets, embedding_dim)
        kwargs = dict(
            input_size=embedding_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bias=True,
            batch_first=True,
            bidirectional=bidirectional,
        )
        if cell == "rnn":
            kwargs["nonlinearity"] = "tanh"
        self.encoder = CELLS[cell](**kwargs)
        self.head = nn.Linear(self.feature_size, num_labels)

    @property
    def state_size(self) -> int:
        """Width of the last layer's states, both directions."""
        return self.hidden_size * self.num_directions

    @property
    def feature_size(self) -> int:
        """Width of what the head reads."""
        return self.state_size * (2 if self.pooling == "last_max" else 1)

    @classmethod
    def from_config(cls, config: dict) -> "Classifier":
        return cls(
            cell=config["cell"],
            vocab_size=config["vocab_size"],
            embedding_dim=config["embedding_dim"],
            hidden_size=config["hidden_size"],
            num_layers=config["num_layers"],
            bidirectional=config["bidirectional"],
            num_labels=len(config["labels"]),
            pooling=config.get("pooling", "last"),
            ngram_buckets=config.get("ngram_buckets", 0),
        )

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (batch, time) -> word vectors (batch, time, dim), each plus its bigram's vector
        when the model has bigrams."""
        xs = self.embedding(ids)
        if self.ngram_buckets > 0:
            xs = xs + self.ngram_embedding(bucket_ids(ids, self.ngram_buckets))
        return xs

    def pool(self, last: torch.Tensor, out, lengths: torch.Tensor) -> torch.Tensor:
        """What the head reads, from the last layer's final states `last` (batch, D * hidden:
        forward, then reverse, i.e. h_n[-2], h_n[-1]) and its states at every step, `out`
        (batch, time, D * hidden; None for pooling "last"), for texts of `lengths` (at least
        1): `last` itself, the max or mean of `out` over each text's steps, or `last` and the
        max."""
        if self.pooling == "last":
            return last
        steps = torch.arange(out.shape[1], device=out.device)
        inside = (steps[None, :] < lengths.to(out.device)[:, None]).unsqueeze(-1)
        if self.pooling == "mean":
            total = out.masked_fill(~inside, 0.0).sum(dim=1)
            return total / lengths.to(out.device, out.dtype)[:, None]
        peak = out.masked_fill(~inside, float("-inf")).amax(dim=1)
        return peak if self.pooling == "max" else torch.cat([last, peak], dim=1)

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (batch, time) int64 padded with PAD_ID, lengths (batch,) -> (batch, feature_size),
        as `pool` makes it. Rows with length 0 stay zero.
        """
        batch = ids.shape[0]
        out = torch.zeros(batch, self.feature_size, dtype=self.head.weight.dtype)
        lengths = lengths.to(torch.int64).cpu()
        nonempty = torch.nonzero(lengths > 0, as_tuple=False).flatten()
        if nonempty.numel() == 0:
            return out
        sub_lengths = lengths[nonempty]
        sub_ids = ids[nonempty][:, : int(sub_lengths.max())]
        xs = self.embed(sub_ids)
        packed = pack_padded_sequence(xs, sub_lengths, batch_first=True, enforce_sorted=False)
        states, hidden = self.encoder(packed)
        h_n = hidden[0] if self.cell == "lstm" else hidden  # (layers * D, batch', hidden)
        # With enforce_sorted=False PyTorch returns h_n and the states in the input order.
        last = torch.cat(list(h_n[-self.num_directions :]), dim=1)
        states = None if self.pooling == "last" else pad_packed_sequence(states, batch_first=True)[0]
        out[nonempty] = self.pool(last, states, sub_lengths)
        return out

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor):
        """Returns (logits, features)."""
        features = self.features(ids, lengths)
        return self.head(features), features


class LanguageModelHead(nn.Module):
    """The `lm` objective's own tensors: a projection of each direction's states to the word
    vectors' width (`projection`, `projection_reverse`) and a bias per word (`output_bias`);
    the output layer's weight is the embedding table itself."""

    def __init__(self, embedding_dim: int, hidden_size: int, vocab_size: int, bidirectional: bool):
        super().__init__()
        self.projection = nn.Linear(hidden_size, embedding_dim)
        if bidirectional:
            self.projection_reverse = nn.Linear(hidden_size, embedding_dim)
        self.output_bias = nn.Parameter(torch.zeros(vocab_size))


class AutoencoderHead(nn.Module):
    """The `autoencoder` objective's own tensors: a one-layer decoder of the encoder's cell and
    width that reads the previous word's vector beside the encoder's final state (`decoder`),
    a projection to the word vectors' width (`projection`) and a bias per word
    (`output_bias`)."""

    def __init__(self, cell: str, embedding_dim: int, hidden_size: int, state_size: int,
                 vocab_size: int):
        super().__init__()
        kwargs = dict(input_size=embedding_dim + state_size, hidden_size=hidden_size,
                      num_layers=1, bias=True, batch_first=True)
        if cell == "rnn":
            kwargs["nonlinearity"] = "tanh"
        self.decoder = CELLS[cell](**kwargs)
        self.projection = nn.Linear(hidden_size, embedding_dim)
        self.output_bias = nn.Parameter(torch.zeros(vocab_size))


class PretrainedEncoder(nn.Module):
    """A pretrained encoder directory (`lstm-sentiment pretrain`): `embedding` and `encoder` as
    a `Classifier` has them, plus the objective's head under `lm` or `autoencoder`.

    Texts are read as pretraining reads them: tokenized whole and cut into consecutive windows
    of `max_length` tokens; windows of one token predict nothing. `lm`: forward states at step
    t predict token t + 1, backward states (bidirectional) token t - 1. `autoencoder`: the
    decoder regenerates each window from the encoder's final states (forward, then backward),
    reading at step t the vector of token t - 1 (zeros at the first step)."""

    def __init__(self, config: dict):
        super().__init__()
        self.objective = config["objective"]
        self.cell = config["cell"]
        self.hidden_size = config["hidden_size"]
        self.num_directions = 2 if config["bidirectional"] else 1
        body = Classifier(config["cell"], config["vocab_size"], config["embedding_dim"],
                          config["hidden_size"], config["num_layers"], config["bidirectional"], 2)
        self.embedding = body.embedding
        self.encoder = body.encoder
        if self.objective == "lm":
            self.lm = LanguageModelHead(config["embedding_dim"], config["hidden_size"],
                                        config["vocab_size"], config["bidirectional"])
        elif self.objective == "autoencoder":
            self.autoencoder = AutoencoderHead(
                config["cell"], config["embedding_dim"], config["hidden_size"],
                self.hidden_size * self.num_directions, config["vocab_size"])
        else:
            raise ValueError(f"unknown objective {self.objective!r} (expected lm or autoencoder)")

    def _log_probs(self, z: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(z @ self.embedding.weight.t() + bias, dim=-1)

    def window_nll(self, ids: list[int]) -> tuple[float, int]:
        """Summed negative log-likelihood of the words one window predicts, and their number."""
        x = torch.tensor([ids], dtype=torch.int64)
        xs = self.embedding(x)
        n = len(ids)
        states, hidden = self.encoder(xs)  # one window: no padding
        if self.objective == "lm":
            h = self.hidden_size
            log_p = self._log_probs(self.lm.projection(states[0, : n - 1, :h]), self.lm.output_bias)
            nll = -log_p[torch.arange(n - 1), x[0, 1:]].sum()
            count = n - 1
            if self.num_directions == 2:
                back = self.lm.projection_reverse(states[0, 1:, h:])
                log_p = self._log_probs(back, self.lm.output_bias)
                nll = nll - log_p[torch.arange(n - 1), x[0, : n - 1]].sum()
                count += n - 1
            return float(nll), count
        h_n = hidden[0] if self.cell == "lstm" else hidden
        code = torch.cat(list(h_n[-self.num_directions :]), dim=1)  # (1, state)
        previous = torch.cat([torch.zeros_like(xs[:, :1]), xs[:, : n - 1]], dim=1)
        inputs = torch.cat([previous, code[:, None, :].expand(1, n, code.shape[1])], dim=2)
        decoded, _ = self.autoencoder.decoder(inputs)
        z = self.autoencoder.projection(decoded[0])
        log_p = self._log_probs(z, self.autoencoder.output_bias)
        return float(-log_p[torch.arange(n), x[0]].sum()), n

    @torch.no_grad()
    def log_likelihood(self, tokenizer: Tokenizer, config: dict, texts: Sequence[str]):
        """Per text: (summed negative log-likelihood, predictions), windows as pretraining cuts
        them."""
        out = []
        for text in texts:
            ids = tokenizer.encode(text, add_special_tokens=False).ids
            total, count = 0.0, 0
            size = config["max_length"]
            for start in range(0, len(ids), size):
                window = ids[start : start + size]
                if len(window) >= 2:
                    nll, n = self.window_nll(window)
                    total, count = total + nll, count + n
            out.append((total, count))
        return out


def load_pretrained_dir(model_dir: str):
    """Returns (model, tokenizer, config) of a pretrained encoder directory; eval mode, float32."""
    with open(os.path.join(model_dir, CONFIG_FILE), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("kind") != PRETRAINED_KIND:
        raise ValueError(f"{model_dir}: not a pretrained encoder (no \"kind\": \"{PRETRAINED_KIND}\")")
    if config.get("format_version", 0) > PRETRAINED_FORMAT_VERSION:
        raise ValueError(f"{model_dir}: format version {config['format_version']} is too new")
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, TOKENIZER_FILE))
    model = PretrainedEncoder(config)
    model.load_state_dict(load_file(os.path.join(model_dir, WEIGHTS_FILE)), strict=True)
    model.float().eval()
    return model, tokenizer, config


def classifier_from_pretrained(pretrained: PretrainedEncoder, config: dict, labels: Sequence[str],
                               pooling: str = "last") -> Classifier:
    """A classifier whose embedding and encoder start from `pretrained` and whose head starts
    fresh, as `lstm-sentiment train --init DIR` starts one."""
    model = Classifier(config["cell"], config["vocab_size"], config["embedding_dim"],
                       config["hidden_size"], config["num_layers"], config["bidirectional"],
                       len(labels), pooling)
    model.embedding.load_state_dict(pretrained.embedding.state_dict())
    model.encoder.load_state_dict(pretrained.encoder.state_dict())
    return model


def read_config(model_dir: str) -> dict:
    with open(os.path.join(model_dir, CONFIG_FILE), encoding="utf-8") as f:
        config = json.load(f)
    version = config.get("format_version", 0)
    if version > FORMAT_VERSION:
        raise ValueError(f"{model_dir}: format version {version} is newer than {FORMAT_VERSION}")
    return config


def load_model_dir(model_dir: str):
    """Returns (model, tokenizer, config); the model is in eval mode, float32, on the CPU."""
    config = read_config(model_dir)
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, TOKENIZER_FILE))
    if tokenizer.get_vocab_size(with_added_tokens=True) != config["vocab_size"]:
        raise ValueError(
            f"{model_dir}: tokenizer has {tokenizer.get_vocab_size(True)} entries, "
            f"config says vocab_size {config['vocab_size']}"
        )
    model = Classifier.from_config(config)
    state = load_file(os.path.join(model_dir, WEIGHTS_FILE))
    model.load_state_dict(state, strict=True)  # no renaming: names are the state_dict's
    model.float().eval()
    return model, tokenizer, config


def save_model_dir(model_dir: str, model: Classifier, tokenizer: Tokenizer, config: dict) -> None:
    """Writes config.json, tokenizer.json and model.safetensors (float32, contiguous)."""
    os.makedirs(model_dir, exist_ok=True)
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(model_dir, WEIGHTS_FILE))
    tokenizer.save(os.path.join(model_dir, TOKENIZER_FILE), pretty=True)
    with open(os.path.join(model_dir, CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")


def truncate(ids: list[int], max_length: int, truncation: str = "head") -> list[int]:
    """What a text with `ids` keeps: all of them up to max_length, else the first ones (head),
    the last ones (tail), or ceil(max_length / 2) from the start and the rest from the end
    (head_tail)."""
    if truncation not in TRUNCATIONS:
        raise ValueError(f"unknown truncation {truncation!r} (expected one of {TRUNCATIONS})")
    if len(ids) <= max_length:
        return list(ids)
    head = {"head": max_length, "tail": 0, "head_tail": (max_length + 1) // 2}[truncation]
    tail = max_length - head
    return list(ids[:head]) + list(ids[len(ids) - tail :])


def encode(
    tokenizer: Tokenizer, texts: Iterable[str], max_length: int, truncation: str = "head"
) -> list[list[int]]:
    """Token ids per text: no special tokens, at most max_length kept as `truncate` keeps them."""
    return [
        truncate(tokenizer.encode(t, add_special_tokens=False).ids, max_length, truncation)
        for t in texts
    ]


def pad(ids: Sequence[Sequence[int]]):
    """Lists of ids -> (ids (batch, time) int64 padded with PAD_ID, lengths (batch,))."""
    lengths = torch.tensor([len(x) for x in ids], dtype=torch.int64)
    time = max([1] + [len(x) for x in ids])
    batch = torch.full((len(ids), time), PAD_ID, dtype=torch.int64)
    for i, x in enumerate(ids):
        if x:
            batch[i, : len(x)] = torch.tensor(x, dtype=torch.int64)
    return batch, lengths


def length_buckets(lengths: Sequence[int], batch: int, rng) -> list[list[int]]:
    """Training batches as src/train/batching.rs cuts them: shuffle, sort pools of 32 batches
    by length, cut, shuffle the batches. `rng` is a random.Random."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for start in range(0, len(order), batch * 32):
        pool = sorted(order[start:start + batch * 32], key=lambda i: lengths[i])
        batches += [pool[i:i + batch] for i in range(0, len(pool), batch)]
    rng.shuffle(batches)
    return batches


def train_step(model, opt, batch, lengths, target, dropout: float, clip: float, packed: bool):
    """One training step of an LSTM `Classifier` as lstm-sentiment's `train` takes it: dropout on
    the word vectors and before the head, cross-entropy, gradient-norm clipping, `opt.step()`.
    `packed`: through pack_padded_sequence (as `Classifier.forward`); else padded, the state
    gathered at each text's last token (exact for one direction, and faster on the CPU). The
    model's pooling applies to either. Returns (loss, logits)."""
    xs = nn.functional.dropout(model.embed(batch), dropout, training=True)
    if packed:
        seqs = pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False)
        states, (h_n, _) = model.encoder(seqs)
        last = torch.cat(list(h_n[-model.num_directions :]), dim=1)
        if model.pooling != "last":
            states = pad_packed_sequence(states, batch_first=True)[0]
    else:
        states, _ = model.encoder(xs)
        last = states[torch.arange(len(lengths)), lengths - 1]
    features = model.pool(last, states, lengths)
    logits = model.head(nn.functional.dropout(features, dropout, training=True))
    loss = nn.functional.cross_entropy(logits, target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss, logits


@torch.no_grad()
def run(model: Classifier, tokenizer: Tokenizer, config: dict, texts: Sequence[str]):
    """Returns (ids, logits (batch, labels), features (batch, D * hidden))."""
    ids = encode(tokenizer, texts, config["max_length"], config.get("truncation", "head"))
    if not ids:
        n = len(config["labels"])
        return ids, torch.zeros(0, n), torch.zeros(0, model.feature_size)
    batch, lengths = pad(ids)
    logits, features = model(batch, lengths)
    return ids, logits, features


def predict(model_dir: str, texts: Sequence[str]) -> list[list[float]]:
    """Probabilities per text, in the model's label order."""
    model, tokenizer, config = load_model_dir(model_dir)
    _, logits, _ = run(model, tokenizer, config, texts)
    return torch.softmax(logits, dim=-1).tolist()


def _read_texts(args) -> list[str]:
    if args.texts:
        return list(args.texts)
    f = sys.stdin if args.input in (None, "-") else open(args.input, encoding="utf-8")
    with f:
        lines = [line.rstrip("\n").removesuffix("\r") for line in f]
    if lines:
        lines[0] = lines[0].lstrip("\ufeff")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in [
        ("predict", "print {text, label, score, probs} per text"),
        ("embed", "print {text, vector} per text"),
        ("score", "pretrained encoder: print {text, nll, predictions} per text"),
    ]:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--model", required=True, help="model directory")
        p.add_argument("--input", "-i", help="file with one text per line (- for stdin)")
        p.add_argument("texts", nargs="*", metavar="TEXT")
    args = parser.parse_args(argv)

    if args.command == "score":
        model, tokenizer, config = load_pretrained_dir(args.model)
        texts = _read_texts(args)
        for text, (nll, n) in zip(texts, model.log_likelihood(tokenizer, config, texts)):
            print(json.dumps({"text": text, "nll": nll, "predictions": n}, ensure_ascii=False))
        return 0
    model, tokenizer, config = load_model_dir(args.model)
    texts = _read_texts(args)
    _, logits, features = run(model, tokenizer, config, texts)
    labels = config["labels"]
    if args.command == "predict":
        probs = torch.softmax(logits, dim=-1)
        for text, row in zip(texts, probs.tolist()):
            best = max(range(len(row)), key=lambda i: (row[i], -i))
            line = {
                "text": text,
                "label": labels[best],
                "score": row[best],
                "probs": dict(zip(labels, row)),
            }
            print(json.dumps(line, ensure_ascii=False))
    else:
        for text, row in zip(texts, features.tolist()):
            print(json.dumps({"text": text, "vector": row}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
