#!/usr/bin/env python3
# requirements: scripts/parity/requirements.txt
"""Trains lstm-sentiment's classifier in PyTorch, with `lstm-sentiment train`'s flags and recipe.

    scripts/python.sh scripts/parity/train_twin.py --train train.tsv --out DIR [FLAGS]
    lstm-sentiment eval --model DIR --data test.tsv

The flags that change training are `train`'s, with its defaults; a flag the twin does not
implement is refused by name. DIR is a model directory our binary reads (config.json,
tokenizer.json, model.safetensors); config.json's `training` record says `"trainer": "pytorch"`.
The network is scripts/parity/torch_twin.py's `Classifier`. What mirrors what:

- data: TSV files only; the held-out dev part follows src/train/split.rs's rule (the same
  number of each label, chosen by Python's generator, so not the same examples); label order,
  tokenizer (vocabulary by count then word, --min-count, --max-vocab, --keep-case) and
  truncation as ours. scripts/parity/check_twin_start.sh checks the tokenizer.json
  byte for byte and the word2vec start.
- start: word vectors N(0, 0.1) with [PAD] zero, bigram table zero, recurrent and head weights
  uniform in +-1/sqrt(fan) (PyTorch's own), LSTM input-side forget-gate bias 1 (src/model.rs).
  --pretrain-word2vec starts the word vectors from our binary's word2vec ($BIN, else
  target/release/lstm-sentiment) run with train's settings on the twin's training part.
  --init DIR takes a pretrained encoder directory's tokenizer (and its settings), word vectors
  and encoder weights as they are (src/train/init.rs); the bigram table and head start fresh.
- optimizer: AdamW (betas 0.9, 0.999, eps 1e-8, decoupled weight decay) for the network; the word
  and bigram tables as nn.Embedding(sparse=True) with SparseAdam, the lazy row-sparse Adam that
  src/optim/rows.rs's SparseRows reproduces (a row's moments move only in steps whose batch holds
  it; bias correction counts every step). SparseAdam has no weight decay, so with
  --weight-decay the batch's rows are scaled by 1 - lr x decay before its step, as ours do.
  Only real tokens are looked up, so padding never enters the sparse gradients.
- step: word dropout (tokens to [UNK]), dropout on word vectors, between layers (nn.LSTM's own)
  and before the head; cross-entropy; the global gradient norm over every parameter, tables
  included (also frozen word vectors, as ours), clipped to --clip-norm; the learning rate of
  src/train/schedule.rs, tables at --embedding-lr-scale x it. One direction runs padded (exact,
  padding comes after each text), two through pack_padded_sequence. --adversarial (auto as
  ours decides it) adds the loss at the word vectors moved along their gradient
  (src/train/adversarial.rs); the move's scale comes from the real tokens' vectors (ours also
  counts the padding steps, which hold a vector of one of the batch's words).
- average: after each step every weight, tables included, mixes into its moving average with
  src/train/average.rs's decay (--ema, auto as ours decides it; ours brings a table row's
  average up to date only when the row moves or the average is read, which is the same sum);
  each epoch is scored, and the best kept, by the average.
- epochs: as many as --epochs (auto as ours decides it from a fresh or --init DIR start),
  length-bucketed shuffled batches (src/train/batching.rs), dev accuracy after each, the best
  epoch kept, patience; a non-finite loss or gradient ends the run as ours does.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# OpenMP threads that spin while they wait for each other stall for whole time slices when the
# cores are busy with other work (twenty times slower on a shared 2-core machine); passive
# waiting costs little when they are not. Read when torch loads; a value already set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

import torch_twin as twin  # noqa: E402
import twin_data as data  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("BIN", str(ROOT / "target" / "release" / "lstm-sentiment"))
EVAL_BATCH = 256

# `train` flags the twin refuses, with what they do there.
NOT_IMPLEMENTED = {
    "--vectors": "word vectors from a file",
    "--unlabeled": "more text for word2vec",
    "--label-map": "renaming labels",
    "--format": "data formats other than TSV",
    "--text-column": "CSV columns",
    "--label-column": "CSV columns",
    "--skip-invalid": "skipping bad lines",
    "--resume": "resuming from a checkpoint",
    "--checkpoint-dir": "checkpoints",
    "--keep-checkpoint": "checkpoints",
    "--device": "devices other than the CPU",
    "--bf16": "bfloat16",
}


def parse_args(argv):
    for arg in argv:
        name = arg.split("=", 1)[0]
        if name in NOT_IMPLEMENTED:
            sys.exit(f"train_twin.py: {name} ({NOT_IMPLEMENTED[name]}) is not implemented by the "
                     "PyTorch twin; leave it out")
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    p.add_argument("--train", required=True, help="labelled training data (TSV)")
    p.add_argument("--dev", help="dev data (TSV); default: hold out --dev-fraction of --train")
    p.add_argument("--out", "-o", required=True, help="where to write the model directory")
    p.add_argument("--cell", default="lstm", choices=sorted(twin.CELLS))
    p.add_argument("--embedding-dim", type=int, default=128)
    p.add_argument("--ngram-buckets", type=int_or_auto, default=None,
                   help="a number, or auto (the default: 100,000 for src/ngram.rs's "
                   "long_or_ideographic texts, else 0)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--bidirectional", type=bool_arg, nargs="?", const=True, default=True)
    p.add_argument("--pooling", default="max", choices=twin.POOLINGS)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--embedding-dropout", type=float, help="default: --dropout")
    p.add_argument("--word-dropout", type=float, default=0.0)
    p.add_argument("--adversarial", type=float_or_auto, default=None,
                   help="a number, or auto (the default: src/train/adversarial.rs's rule)")
    p.add_argument("--epochs", type=int_or_auto, default=None,
                   help="a number, or auto (the default: src/train/auto.rs's rule)")
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--ema", type=float_or_auto, default=None,
                   help="a number, or auto (the default: src/train/auto.rs's rule)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--lr-schedule", default="constant", choices=["constant", "linear", "cosine"])
    p.add_argument("--warmup", type=float, default=0.0)
    p.add_argument("--embedding-lr-scale", type=float, default=1.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--clip-norm", type=float, default=5.0)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--truncate", default="head", choices=twin.TRUNCATIONS)
    p.add_argument("--min-count", type=int, default=1)
    p.add_argument("--max-vocab", type=int, default=50_000)
    p.add_argument("--keep-case", action="store_true")
    p.add_argument("--dev-fraction", type=float, default=0.1)
    p.add_argument("--pretrain-word2vec", action="store_true")
    p.add_argument("--init", default="none", metavar="none|DIR",
                   help="none: fresh; DIR: a pretrained encoder directory, as ours. The twin "
                        "does not decide on its own (ours' auto): ours' auto start on Chinese "
                        "texts is --init assets/zh-encoder --epochs 5")
    p.add_argument("--freeze-embeddings", action="store_true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, help="default: RAYON_NUM_THREADS, else every core")
    p.add_argument("--no-checkpoint", action="store_true", help="accepted: the twin writes none")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    problem = check(args)
    if problem:
        p.error(problem)
    return args


def int_or_auto(s: str) -> int | None:
    """--ngram-buckets, --epochs: `auto` (None, decided from the training data) or a number."""
    return None if s == "auto" else int(s)


def float_or_auto(s: str) -> float | None:
    """--adversarial, --ema: `auto` (None, decided from the training data) or a number."""
    return None if s == "auto" else float(s)


def bool_arg(s: str) -> bool:
    """clap's bool values."""
    if s not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, found {s}")
    return s == "true"


def check(a) -> str | None:
    """The bounds src/train/config.rs `validate` sets, as a message, or None."""
    epochs = 1 if a.epochs is None else a.epochs
    if min(epochs, a.batch_size, a.embedding_dim, a.hidden, a.layers, a.max_length) < 1:
        return "epochs, batch size, sizes, layers and max length must be at least 1"
    for what, x in [("dropout", a.dropout), ("word dropout", a.word_dropout),
                    ("embedding dropout", embedding_dropout(a)), ("warmup", a.warmup),
                    ("dev fraction", a.dev_fraction), ("ema", a.ema or 0.0)]:
        if not 0.0 <= x < 1.0:
            return f"{what} must be in [0, 1), found {x}"
    if a.adversarial is not None and not 0 <= a.adversarial <= 10:
        return f"the adversarial move must be in [0, 10], found {a.adversarial}"
    if not 0 < a.lr <= 10 or not 0 < a.lr * a.embedding_lr_scale <= 10:
        return "learning rate and learning rate x embedding scale must be in (0, 10]"
    if a.weight_decay < 0 or a.weight_decay * a.lr * max(1.0, a.embedding_lr_scale) > 1:
        return "weight decay must be at least 0 and at most 1 / the largest learning rate"
    if not (a.clip_norm >= 0 and math.isfinite(a.clip_norm)):
        return "clip norm must be a finite number, at least 0"
    if a.ngram_buckets is not None and not 0 <= a.ngram_buckets <= 1 << 31:
        return "n-gram buckets must be in [0, 2^31]"
    if a.init != "none" and a.pretrain_word2vec:
        return "a pretrained encoder brings its own word vectors; it cannot also start from word2vec"
    return None


def load_encoder(a):
    """A pretrained encoder directory (torch_twin's `load_pretrained_dir`) and its tokenizer,
    checked against the run's sizes as src/train/init.rs checks them; the run then takes its
    tokenizer settings."""
    try:
        encoder, tokenizer, config = twin.load_pretrained_dir(a.init)
    except Exception as e:  # OSError, bad JSON, a wrong kind, and tokenizers' own errors
        raise data.DataError(f"{a.init}: not a pretrained encoder directory: {e}") from e
    want = {"cell": a.cell, "embedding_dim": a.embedding_dim, "hidden_size": a.hidden,
            "num_layers": a.layers, "bidirectional": a.bidirectional}
    for key, value in want.items():
        if config.get(key) != value:
            raise data.DataError(f"{a.init}: the encoder's {key} is {config.get(key)}, "
                                 f"the run's {value}")
    settings = config["tokenizer"]
    a.keep_case, a.min_count = not settings["lowercase"], settings["min_count"]
    a.max_vocab = settings["max_vocab"]
    return encoder, tokenizer


def embedding_dropout(a) -> float:
    return a.dropout if a.embedding_dropout is None else a.embedding_dropout


class Schedule:
    """src/train/schedule.rs: warmup from 0 in equal parts, then constant, linear or cosine
    towards 0 at the last planned step (epochs x steps per epoch)."""

    def __init__(self, a, steps_per_epoch: int):
        self.lr, self.kind, self.per_epoch = a.lr, a.lr_schedule, steps_per_epoch
        self.total = a.epochs * steps_per_epoch
        self.warmup = math.floor(a.warmup * self.total + 0.5)

    def at(self, epoch: int, step: int) -> float:
        """Step `step` of epoch `epoch`, both from 1."""
        t = (epoch - 1) * self.per_epoch + step - 1
        if t < self.warmup:
            return self.lr * (t + 1) / self.warmup
        progress = min((t - self.warmup) / max(self.total - min(self.warmup, self.total), 1), 1.0)
        factor = {"constant": 1.0, "linear": 1.0 - progress,
                  "cosine": 0.5 * (1.0 + math.cos(math.pi * progress))}[self.kind]
        return self.lr * factor


def new_model(a, vocab_size: int, labels: list[str]) -> twin.Classifier:
    """The network with src/model.rs's starting weights, drawn from the seeded torch generator."""
    torch.manual_seed(a.seed)
    model = twin.Classifier(a.cell, vocab_size, a.embedding_dim, a.hidden, a.layers,
                            a.bidirectional, len(labels), a.pooling, a.ngram_buckets)
    with torch.no_grad():
        model.embedding.weight.normal_(0.0, 0.1)
        model.embedding.weight[data.PAD_ID] = 0.0
        if a.ngram_buckets:
            model.ngram_embedding.weight.zero_()
        if a.cell == "lstm":
            for name, bias in model.encoder.named_parameters():
                if name.startswith("bias_ih"):
                    bias[a.hidden : 2 * a.hidden] = 1.0  # gate order i, f, g, o
    model.embedding.sparse = True
    if a.ngram_buckets:
        model.ngram_embedding.sparse = True
    model.encoder.dropout = a.dropout  # between layers; nn.LSTM applies it in training only
    return model


def tables(model):
    """The tables trained row by row: the word vectors, and the bigram vectors if any."""
    bigrams = [model.ngram_embedding.weight] if model.ngram_buckets else []
    return [model.embedding.weight] + bigrams


def features(model, xs, lengths):
    """The sentence vectors of word vectors xs (batch, time, dim) of texts of `lengths`; texts
    without tokens get zeros, as ours."""
    nonempty = lengths > 0
    if not nonempty.all():
        out = xs.new_zeros(len(lengths), model.feature_size)
        if nonempty.any():
            out[nonempty] = features(model, xs[nonempty], lengths[nonempty])
        return out
    xs = xs[:, : int(lengths.max())]
    if model.bidirectional:
        packed = pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False)
        states, hidden = model.encoder(packed)
        h_n = hidden[0] if model.cell == "lstm" else hidden
        last = torch.cat(list(h_n[-2:]), dim=1)
        states = pad_packed_sequence(states, batch_first=True)[0]
    else:
        states = model.encoder(xs)[0]
        last = states[torch.arange(len(lengths)), lengths - 1]
    return model.pool(last, states, lengths)


def vectors_in_training(model, ids, lengths, a):
    """Word dropout, then the lookups of real tokens only (zeros past each text's end)."""
    inside = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
    if a.word_dropout > 0:
        ids = torch.where(inside & (torch.rand(ids.shape) < a.word_dropout), data.UNK_ID, ids)
    vectors = model.embedding(ids[inside])
    if model.ngram_buckets:
        vectors = vectors + model.ngram_embedding(twin.bucket_ids(ids, model.ngram_buckets)[inside])
    return torch.zeros(*ids.shape, vectors.shape[1]).masked_scatter(inside[..., None], vectors)


def logits_at(model, xs, lengths, a):
    """Dropout, encoder, dropout, head."""
    xs = F.dropout(xs, embedding_dropout(a), training=True)
    return model.head(F.dropout(features(model, xs, lengths), a.dropout, training=True))


def perturbation(xs, grad, lengths, eps):
    """src/train/adversarial.rs: each text's gradient scaled to eps times the root-mean-square
    length of the batch's word vectors."""
    inside = torch.arange(xs.shape[1])[None, :] < lengths[:, None]
    length = eps * math.sqrt(float(xs[inside].square().sum(1).mean()))
    norm = grad.square().sum((1, 2), keepdim=True).sqrt()
    return grad / (norm + 1e-12) * length


def loss_in_training(model, ids, lengths, y, a):
    """The loss at the texts (backward already taken with --adversarial) and its logits: with
    --adversarial, the loss at the moved texts is added, as src/train/adversarial.rs does."""
    xs = vectors_in_training(model, ids, lengths, a)
    if a.adversarial == 0:
        logits = logits_at(model, xs, lengths, a)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        return loss, logits
    leaf = xs.detach().requires_grad_()
    logits = logits_at(model, leaf, lengths, a)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    moved = xs + perturbation(xs.detach(), leaf.grad, lengths, a.adversarial)
    moved_loss = F.cross_entropy(logits_at(model, moved, lengths, a), y)
    (moved_loss + (xs * leaf.grad).sum()).backward()
    return loss, logits


class Trainer:
    """The model, its two optimizers and the steps."""

    def __init__(self, model, a):
        self.model, self.a = model, a
        names = {id(t) for t in tables(model)}
        dense = [p for p in model.parameters() if id(p) not in names]
        self.dense = torch.optim.AdamW(dense, lr=a.lr, betas=(0.9, 0.999), eps=1e-8,
                                       weight_decay=a.weight_decay)
        trained = tables(model)[1:] if a.freeze_embeddings else tables(model)
        self.sparse = torch.optim.SparseAdam(trained, lr=a.lr, betas=(0.9, 0.999), eps=1e-8) \
            if trained else None
        self.average = {k: v.detach().clone() for k, v in model.named_parameters()} \
            if a.ema > 0 else None
        self.updates = 0

    @torch.no_grad()
    def update_average(self):
        """src/train/average.rs's update: d = min(ema, (1 + t) / (10 + t))."""
        if self.average is None:
            return
        self.updates += 1
        d = min(self.a.ema, (1 + self.updates) / (10 + self.updates))
        for k, v in self.model.named_parameters():
            self.average[k].add_(v.detach() - self.average[k], alpha=1 - d)

    @torch.no_grad()
    def scored_state(self):
        """The state each epoch is scored and kept by: the average's, else the model's."""
        state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if self.average is not None:
            state.update({k: v.clone() for k, v in self.average.items()})
        return state

    def step(self, seqs, y, lr: float):
        """One optimizer step; (loss, logits) or a message when the loss or gradient is not
        finite (nothing moves then)."""
        ids, lengths = twin.pad(seqs)
        self.model.zero_grad(set_to_none=True)
        loss, logits = loss_in_training(self.model, ids, lengths, torch.tensor(y), self.a)
        for t in tables(self.model):
            t.grad = t.grad.coalesce()
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        norm = math.sqrt(sum(float((g._values() if g.is_sparse else g).double().square().sum())
                             for g in grads))
        if not math.isfinite(loss.item()) or not math.isfinite(norm):
            return f"the loss is {loss.item()}, the gradient norm {norm}"
        if self.a.clip_norm > 0 and norm > self.a.clip_norm:
            factor = self.a.clip_norm / (norm + 1e-6)
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad = p.grad * factor
        table_lr = lr * self.a.embedding_lr_scale
        for group in self.dense.param_groups:
            group["lr"] = lr
        self.dense.step()
        if self.sparse:
            for group in self.sparse.param_groups:
                group["lr"] = table_lr
                if self.a.weight_decay > 0:  # lazily, on the batch's rows only
                    with torch.no_grad():
                        for t in group["params"]:
                            rows = t.grad._indices()[0]
                            t[rows] *= 1.0 - table_lr * self.a.weight_decay
            self.sparse.step()
        self.update_average()
        return loss.item(), logits.detach()


@torch.no_grad()
def evaluate(model, ids, y, n_labels):
    """(mean loss, accuracy, macro-F1) on a set, in batches of similar lengths."""
    if not ids:
        return 0.0, 0.0, 0.0
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    predicted, loss = [0] * len(ids), 0.0
    for start in range(0, len(order), EVAL_BATCH):
        chunk = order[start : start + EVAL_BATCH]
        logits, _ = model(*twin.pad([ids[i] for i in chunk]))
        target = torch.tensor([y[i] for i in chunk])
        loss += F.cross_entropy(logits, target, reduction="sum").item()
        for i, p in zip(chunk, logits.argmax(dim=1).tolist()):
            predicted[i] = p
    model.train()
    accuracy = sum(p == g for p, g in zip(predicted, y)) / len(y)
    return loss / len(y), accuracy, macro_f1(y, predicted, n_labels)


def macro_f1(gold, guess, n_labels) -> float:
    """Mean F1 over the labels that occur in the gold or the predicted labels (src/metrics.rs)."""
    scores = []
    for label in range(n_labels):
        tp = sum(g == label == p for g, p in zip(gold, guess))
        fp = sum(g != label == p for g, p in zip(gold, guess))
        fn = sum(p != label == g for g, p in zip(gold, guess))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def length_buckets(ids, batch_size, seed, epoch):
    """The epoch's batches: src/train/batching.rs's cut, drawn by Python's generator."""
    rng = random.Random(seed * 1_000_003 + epoch)
    return twin.length_buckets([len(x) for x in ids], batch_size, rng)


def run_epochs(trainer, train, dev, a, say):
    """Trains until the last epoch, patience or a non-finite step; returns (records, best,
    failure) with best = (epoch, state_dict, accuracy, macro-F1) or None."""
    train_ids, train_y, n_labels = train[0], train[1], train[2]
    schedule = Schedule(a, math.ceil(len(train_ids) / a.batch_size))
    records, best, since_best = [], None, 0
    for epoch in range(1, a.epochs + 1):
        if a.patience > 0 and since_best >= a.patience:
            break
        clock, loss_sum, right, seen, lr = time.monotonic(), 0.0, 0, 0, a.lr
        for step, idx in enumerate(length_buckets(train_ids, a.batch_size, a.seed, epoch), 1):
            lr = schedule.at(epoch, step)
            done = trainer.step([train_ids[i] for i in idx], [train_y[i] for i in idx], lr)
            if isinstance(done, str):
                return records, best, f"epoch {epoch}, step {step}: {done}"
            loss, logits = done
            loss_sum += loss * len(idx)
            right += sum(p == train_y[i] for i, p in zip(idx, logits.argmax(dim=1).tolist()))
            seen += len(idx)
        scored = trainer.scored_state()
        live = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        trainer.model.load_state_dict(scored)
        dev_loss, accuracy, f1 = evaluate(trainer.model, dev[0], dev[1], n_labels)
        trainer.model.load_state_dict(live)
        if not math.isfinite(dev_loss):
            return records, best, f"epoch {epoch}: the dev loss is {dev_loss}"
        improved = not dev[0] or best is None or accuracy > best[2]
        records.append({"epoch": epoch, "train_loss": loss_sum / seen,
                        "train_accuracy": right / seen, "dev_loss": dev_loss,
                        "dev_accuracy": accuracy, "dev_macro_f1": f1,
                        "seconds": time.monotonic() - clock, "lr": lr, "best": improved})
        mark = " (best)" if improved else ""
        on_dev = f"dev accuracy {accuracy:.4f}{mark}" if dev[0] else "no dev set"
        say(f"epoch {epoch}: train loss {loss_sum / seen:.4f}, {on_dev}, "
            f"{time.monotonic() - clock:.1f} s")
        if improved:
            best, since_best = (epoch, scored, accuracy, f1), 0
        else:
            since_best += 1
    return records, best, None


def model_config(a, tokenizer, labels, training) -> dict:
    """config.json as src/config.rs writes it (options at their defaults left out)."""
    config = {"format_version": 1, "cell": a.cell, "vocab_size": tokenizer.get_vocab_size(True),
              "embedding_dim": a.embedding_dim}
    if a.ngram_buckets:
        config["ngram_buckets"] = a.ngram_buckets
    config.update(hidden_size=a.hidden, num_layers=a.layers, bidirectional=a.bidirectional)
    if a.pooling != "last":
        config["pooling"] = a.pooling
    config.update(labels=labels, max_length=a.max_length)
    if a.truncate != "head":
        config["truncation"] = a.truncate
    config.update(tokenizer={"lowercase": not a.keep_case, "min_count": a.min_count,
                             "max_vocab": a.max_vocab},
                  dtype="float32", training=training)
    config["format_version"] = twin.format_version(config)
    return config


def save(out: str, state: dict, tokenizer, config: dict) -> None:
    """The model directory, each file written to a temporary name and renamed."""
    os.makedirs(out, exist_ok=True)

    def place(name, write):
        tmp = os.path.join(out, f".{name}.tmp")
        write(tmp)
        os.replace(tmp, os.path.join(out, name))

    tensors = {k: v.to(torch.float32).contiguous() for k, v in state.items()}
    place(twin.WEIGHTS_FILE, lambda p: save_file(tensors, p))
    place(twin.TOKENIZER_FILE, lambda p: tokenizer.save(p, pretty=True))
    text = json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    place(twin.CONFIG_FILE, lambda p: Path(p).write_text(text, encoding="utf-8"))


def main(argv=None) -> int:
    a = parse_args(sys.argv[1:] if argv is None else argv)
    threads = a.threads or int(os.environ.get("RAYON_NUM_THREADS") or 0) or os.cpu_count()
    torch.set_num_threads(threads)
    say = (lambda m: None) if a.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    started = time.monotonic()
    try:
        given_dev = data.read_tsv(a.dev) if a.dev else None
        examples = data.read_tsv(a.train)
        train, dev = data.split(examples, given_dev, a.dev_fraction, a.seed)
        # Ours decides on every training text, the held-out dev part included.
        long_or_ideographic = data.long_or_ideographic(t for _, t in examples)
        if a.ngram_buckets is None:
            a.ngram_buckets = 100_000 if long_or_ideographic else 0
        labels = data.label_set(train)
        if len(labels) < 2:
            raise data.DataError("a classifier needs at least two labels in the training data")
        encoder = load_encoder(a) if a.init != "none" else None
        if encoder:
            tokenizer = encoder[1]
        else:
            tokenizer = data.build_tokenizer((t for _, t in train), not a.keep_case,
                                             a.min_count, a.max_vocab)
        encoded = [data.encode(tokenizer, (t for _, t in s), a.max_length, a.truncate)
                   for s in (train, dev)]
        ys = [data.label_indices(s, labels) for s in (train, dev)]
        tokens = sum(len(ids) for ids in encoded[0])
        large = tokens > 3_000_000  # src/train/config.rs's LARGE_TOKENS
        if a.adversarial is None:  # src/train/adversarial.rs's auto_adversarial
            a.adversarial = 0.0 if large else 1.0 if long_or_ideographic else 0.5
        if a.ema is None:  # src/train/auto.rs's auto_ema
            a.ema = 0.99 if large else 0.0
        if a.epochs is None:  # auto_epochs: the twin never starts from the built-in encoder
            a.epochs = 4 if large and a.ema > 0 else 8
        model = new_model(a, tokenizer.get_vocab_size(True), labels)
        if encoder:  # as torch_twin's classifier_from_pretrained (and src/train/init.rs)
            model.embedding.load_state_dict(encoder[0].embedding.state_dict())
            model.encoder.load_state_dict(encoder[0].encoder.state_dict())
            say(f"word vectors and encoder from {a.init}")
        if a.pretrain_word2vec:
            vectors = data.word2vec_vectors(BIN, train, a.embedding_dim, a.min_count,
                                            not a.keep_case, a.seed)
            with torch.no_grad():
                matched = data.start_rows(tokenizer, vectors, model.embedding.weight)
            say(f"word2vec: {matched} of {tokenizer.get_vocab_size(True) - 2} words start from it")
    except data.DataError as e:
        print(f"train_twin.py: {e}", file=sys.stderr)
        return 1
    say(f"{len(train)} training and {len(dev)} dev examples, {tokenizer.get_vocab_size(True)} "
        f"ids, {threads} threads")
    trainer = Trainer(model, a)
    records, best, failure = run_epochs(
        trainer, (encoded[0], ys[0], len(labels)), (encoded[1], ys[1]), a, say)
    if best is None:
        print(f"train_twin.py: training stopped before any epoch finished: {failure}",
              file=sys.stderr)
        return 1
    settings = {k: v for k, v in vars(a).items() if k not in ("train", "dev", "out", "quiet")}
    training = {"trainer": "pytorch", "torch": torch.__version__, "config": settings,
                "train_examples": len(train), "dev_examples": len(dev), "epochs": records,
                "best_epoch": best[0], "dev_accuracy": best[2], "dev_macro_f1": best[3],
                "seconds": time.monotonic() - started, "diverged": failure}
    save(a.out, best[1], tokenizer, model_config(a, tokenizer, labels, training))
    say(f"best epoch {best[0]}: dev accuracy {best[2]:.4f}; saved {a.out}")
    if failure:
        print(f"train_twin.py: training turned non-finite at {failure}; the best epoch before "
              "it is saved", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
