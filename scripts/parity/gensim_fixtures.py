#!/usr/bin/env python3
# requirements: scripts/parity/requirements_gensim.txt
"""Writes the gensim-made vector files that tests/integration/vectors.rs reads
(tests/fixtures/vectors/).

    scripts/python.sh scripts/parity/gensim_fixtures.py

Row i, column j holds ((i * DIM + j) - 17) / 8, exact in float32 and in decimal, except the row
"odd", which holds values that test number parsing. tests/integration/vectors.rs computes the
same values.
gensim writes binary files without a newline after each vector; word2vec.c writes one, so
word2vec-c.bin is laid out here by hand as word2vec.c lays it out.
"""

from pathlib import Path

import gensim
import numpy as np
from gensim.models import KeyedVectors

DIM = 5
WORDS = ["the", "good", "bad", "café", "这", "don't", "[UNK]", "odd"]
ODD = [1 / 3, 1e-7, -2.5e6, 65504.0, -0.0]

out = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "vectors"
out.mkdir(parents=True, exist_ok=True)

vectors = np.array(
    [[((i * DIM + j) - 17) / 8 for j in range(DIM)] for i in range(len(WORDS))],
    dtype=np.float32,
)
vectors[WORDS.index("odd")] = np.array(ODD, dtype=np.float32)

kv = KeyedVectors(vector_size=DIM)
kv.add_vectors(WORDS, vectors)
kv.save_word2vec_format(str(out / "gensim.bin"), binary=True)
kv.save_word2vec_format(str(out / "gensim.txt"), binary=False)
kv.save_word2vec_format(str(out / "gensim-glove.txt"), binary=False, write_header=False)

with open(out / "word2vec-c.bin", "wb") as f:
    f.write(f"{len(WORDS)} {DIM}\n".encode())
    for word, row in zip(WORDS, vectors):
        f.write(word.encode() + b" " + row.astype("<f4").tobytes() + b"\n")

# Each file must load back in gensim to what went in.
for name, binary, header in [
    ("gensim.bin", True, True),
    ("gensim.txt", False, True),
    ("gensim-glove.txt", False, False),
    ("word2vec-c.bin", True, True),
]:
    loaded = KeyedVectors.load_word2vec_format(str(out / name), binary=binary, no_header=not header)
    assert loaded.index_to_key == WORDS, name
    assert np.array_equal(loaded.vectors, vectors), name
print(f"gensim {gensim.__version__}: wrote {', '.join(sorted(p.name for p in out.iterdir()))}")
