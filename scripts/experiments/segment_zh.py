#!/usr/bin/env python3
# requirements: scripts/experiments/requirements_segment.txt
"""Writes a copy of a Chinese data set whose texts are split into words by jieba, to test
words against characters as what the network reads:

    scripts/python.sh scripts/experiments/segment_zh.py ../shared/data/zh-waimai OUT/zh-waimai
    DATA=OUT scripts/python.sh scripts/experiments/run.py train --sets zh-waimai \
        --recipes 'words=,words_ng=--ngram-buckets 100000,fasttext' --seeds 1,2,3 --out F

Our tokenizer cuts every Chinese character out as a token of its own, so each word of two or
more characters is written as one ASCII token ("zz" and its UTF-8 bytes as letters a-p); the
other tokens are kept. train.tsv and test.tsv, `label<TAB>text`, as in the source folder.
"""

import re
import sys
from pathlib import Path

import jieba

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def token(word):
    if not CJK.search(word):
        return word
    return "zz" + "".join(chr(97 + (b >> 4)) + chr(97 + (b & 15)) for b in word.encode())


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, dest = Path(sys.argv[1]), Path(sys.argv[2])
    dest.mkdir(parents=True, exist_ok=True)
    jieba.setLogLevel(60)
    for name in ("train.tsv", "test.tsv"):
        rows = []
        for line in (source / name).read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                label, text = line.split("\t", 1)
                words = (token(w) for w in jieba.cut(text) if w.strip())
                rows.append(f"{label}\t{' '.join(words)}\n")
        (dest / name).write_text("".join(rows), encoding="utf-8")


if __name__ == "__main__":
    main()
