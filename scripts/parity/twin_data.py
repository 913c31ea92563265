"""The data side of scripts/parity/train_twin.py, done as `lstm-sentiment train` does it: reading a
TSV file, holding out the dev part, the label order, the tokenizer built from the training texts,
and word vectors from word2vec run first.

Each function names the Rust code it mirrors. Where Rust's random generator is involved (the dev
split) the rule is the same and the draw is Python's: the twin holds out as many examples of each
label as `train` does, not the same ones.
"""

from __future__ import annotations

import math
import random
import re
import struct
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1

# Rust's char::is_whitespace (Unicode White_Space), which str.trim strips; Python's str.strip
# strips a few control characters more.
RUST_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
INTEGER = re.compile(r"[+-]?[0-9]+")


class DataError(Exception):
    """Bad input, with the file and line it was found at."""


def read_tsv(path: str) -> list[tuple[str, str]]:
    """(label, text) per line of a `label<TAB>text` file, as src/data reads TSV: a leading byte
    order mark and CRLF line ends accepted, blank lines skipped, label and text trimmed."""
    if not path.endswith(".tsv"):
        raise DataError(f"{path}: the twin reads TSV files (label<TAB>text, ending in .tsv) only")
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror}") from e
    examples = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{path}:{number}: invalid UTF-8 at byte {e.start}") from e
        if number == 1:
            text = text.removeprefix("\ufeff")
        text = text.removesuffix("\r")
        if not text.strip(RUST_WHITESPACE):
            continue
        if "\t" not in text:
            raise DataError(f"{path}:{number}: expected `label<TAB>text`, found no tab")
        label, body = text.split("\t", 1)
        label = label.strip(RUST_WHITESPACE)
        if not label:
            raise DataError(f"{path}:{number}: empty label")
        examples.append((label, body.strip(RUST_WHITESPACE)))
    return examples


def label_set(examples) -> list[str]:
    """The distinct labels, as src/data/mod.rs `label_set` orders them: by number when every label
    is an integer (ties by text), else by text."""
    labels = sorted({label for label, _ in examples})
    if labels and all(INTEGER.fullmatch(label) for label in labels):
        labels.sort(key=lambda label: (int(label), label))
    return labels


def split(train, dev, fraction: float, seed: int):
    """(train part, dev part), by the rule of src/train/split.rs: the given dev set; else, in a
    seeded shuffle of train, the first round(n x fraction) examples of each label with n examples
    (never all n) go to dev, or one of the most frequent label (ties: the first name) when every
    label's share rounds to none; none at all when `fraction` is 0."""
    if not train:
        raise DataError("no training examples")
    if dev is not None:
        if not dev:
            raise DataError("the dev set is empty")
        return list(train), list(dev)
    if fraction == 0:
        return list(train), []
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    counts = Counter(label for label, _ in train)
    # f64::round rounds halves away from zero; Python's round would round them to even.
    quota = {label: min(math.floor(n * fraction + 0.5), n - 1) for label, n in counts.items()}
    if not any(quota.values()):
        label, n = min(counts.items(), key=lambda item: (-item[1], item[0]))
        if n < 2:
            raise DataError(
                "cannot hold out a dev example without taking some label's only example; "
                "give a dev set or a dev fraction of 0"
            )
        quota[label] = 1
    rest, held = [], []
    for i in order:
        label = train[i][0]
        if quota[label] > 0:
            quota[label] -= 1
            held.append(train[i])
        else:
            rest.append(train[i])
    return rest, held


def is_split_ideograph(c: str) -> bool:
    """src/tokenizer/pipeline.rs: the characters BERT's normalizer makes tokens of their own."""
    o = ord(c)
    return any(lo <= o <= hi for lo, hi in [
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)])


def long_or_ideographic(texts) -> bool:
    """src/ngram.rs's long_or_ideographic: ideographs outnumber the words of other scripts,
    or the texts hold 50 tokens or more on average."""
    ideographs = words = count = 0
    for text in texts:
        count += 1
        in_word = False
        for c in text:
            if is_split_ideograph(c):
                ideographs, in_word = ideographs + 1, False
            elif c.isalnum():
                words += not in_word
                in_word = True
            else:
                in_word = False
    long = ideographs + words >= 50 * max(count, 1)
    return ideographs > words or long


def label_indices(examples, labels: list[str]) -> list[int]:
    index = {label: i for i, label in enumerate(labels)}
    for label, _ in examples:
        if label not in index:
            raise DataError(
                f"dev label `{label}` never occurs in the training data "
                f"(its labels: {', '.join(labels)})"
            )
    return [index[label] for label, _ in examples]


def pipeline(lowercase: bool) -> Tokenizer:
    """src/tokenizer/pipeline.rs `standard`: NFKC, then BERT's normalizer (accents kept), BERT's
    pre-tokenizer, then runs of digits, in front of a word-level model."""
    tokenizer = Tokenizer(WordLevel({PAD: PAD_ID, UNK: UNK_ID}, unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.NFKC(),
            normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=True, strip_accents=False,
                lowercase=lowercase,
            ),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Digits(individual_digits=False)]
    )
    return tokenizer


def words(tokenizer: Tokenizer, text: str) -> list[str]:
    """The words the pipeline splits `text` into, before vocabulary lookup."""
    normalized = tokenizer.normalizer.normalize_str(text)
    return [word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized)]


def build_tokenizer(texts, lowercase: bool, min_count: int, max_vocab: int) -> Tokenizer:
    """src/tokenizer/mod.rs `TextTokenizer::build`: [PAD] = 0, [UNK] = 1, then the words seen at
    least min_count times by count descending, ties by word ascending (code point order, which
    is Rust's byte order of UTF-8), max_vocab ids in all. The specials are plain vocabulary
    entries, not added tokens, as in Rust."""
    if max_vocab < 2:
        raise DataError(f"max_vocab must be at least 2 (room for {PAD} and {UNK}), got {max_vocab}")
    tokenizer = pipeline(lowercase)
    counts = Counter()
    for text in texts:
        counts.update(words(tokenizer, text))
    kept = (w for w, n in counts.items() if n >= min_count)
    ordered = sorted(kept, key=lambda w: (-counts[w], w))
    vocab = {PAD: PAD_ID, UNK: UNK_ID}
    for word in ordered[: max_vocab - 2]:
        vocab[word] = len(vocab)
    tokenizer.model = WordLevel(vocab, unk_token=UNK)
    return tokenizer


def encode(tokenizer: Tokenizer, texts, max_length: int, truncation: str) -> list[list[int]]:
    """Token ids per text, kept as scripts/parity/torch_twin.py `truncate` keeps them."""
    from torch_twin import truncate  # noqa: PLC0415 (torch_twin imports torch)

    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
    return [truncate(e.ids, max_length, truncation) for e in encodings]


def word2vec_vectors(binary: str, train, dim: int, min_count: int, lowercase: bool, seed: int):
    """Word vectors from our binary's word2vec with the settings src/train/init.rs gives it
    (skip-gram, the word vector size, the tokenizer's min count and case, one thread, the run's
    seed, word2vec.c's defaults otherwise), trained on the texts of `train`. Returns
    [(word, vector)] in the file's order."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus, out = Path(tmp) / "train.tsv", Path(tmp) / "vectors.bin"
        corpus.write_text("".join(f"{label}\t{text}\n" for label, text in train), encoding="utf-8")
        cmd = [binary, "word2vec", "--input", str(corpus), "--input-format", "tsv", "--sg",
               "--dim", str(dim), "--min-count", str(min_count), "--threads", "1",
               "--seed", str(seed), "--format", "bin", "--out", str(out), "-q"]
        if not lowercase:
            cmd.append("--cased")
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise DataError(f"{binary} word2vec failed: {done.stderr.strip()}")
        return read_word2vec_binary(out.read_bytes(), str(out))


def read_word2vec_binary(data: bytes, origin: str):
    """[(word, float32 vector)] of a word2vec binary file (`COUNT DIM` line, then per word its
    text, a space and DIM little-endian float32, a line break or none)."""
    header, _, rest = data.partition(b"\n")
    count, dim = (int(x) for x in header.split())
    vectors, at = [], 0
    for _ in range(count):
        while rest[at : at + 1] == b"\n":
            at += 1
        space = rest.index(b" ", at)
        word = rest[at:space].decode("utf-8")
        at = space + 1 + 4 * dim
        if at > len(rest):
            raise DataError(f"{origin}: ends inside the vector of `{word}`")
        vectors.append((word, struct.unpack(f"<{dim}f", rest[space + 1 : at])))
    return vectors


def start_rows(tokenizer: Tokenizer, vectors, table) -> int:
    """src/vectors/classifier.rs `embedding_init`: the row of each vocabulary entry whose word
    the vectors have becomes that vector; a file word counts when it is a vocabulary entry as it
    is, or when the pipeline makes one vocabulary entry of it; an exact spelling wins, then the
    earliest in the file. [PAD] stays zero. `table` is a (vocab, dim) float tensor, changed in
    place; returns how many words (not [UNK]) were matched."""
    import torch  # noqa: PLC0415

    source = {}
    for row, (word, _) in enumerate(vectors):
        exact = tokenizer.token_to_id(word)
        if exact is None:
            tokens = words(tokenizer, word)
            token_id = tokenizer.token_to_id(tokens[0]) if len(tokens) == 1 else None
        else:
            token_id = exact
        if token_id is None:
            continue
        chosen = source.get(token_id)
        if chosen is None or (not chosen[1] and exact is not None):
            source[token_id] = (row, exact is not None)
    matched = 0
    for token_id, (row, _) in source.items():
        if token_id == PAD_ID:
            continue
        table[token_id] = torch.tensor(vectors[row][1], dtype=table.dtype)
        matched += token_id != UNK_ID
    table[PAD_ID] = 0.0
    return matched
