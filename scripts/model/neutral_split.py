#!/usr/bin/env python3
# requirements: scripts/model/requirements_builtin.txt
"""Splits an English labelled file by whether VADER finds any sentiment in a text, and scores a
model on each part: how much of a file's error lies in texts that carry no sentiment word at all
(hotel review titles such as "Charleston" or "Spring Break 2016"), where only a prior can answer.

    scripts/python.sh scripts/model/neutral_split.py [--model DIR] FILE.tsv

FILE holds `label<TAB>text` lines, labels `1`/`0`. A text is neutral when VADER's compound score
is within 0.05 of zero (VADER's own threshold for "neutral"). Prints, for the model (default:
the built-in one; the binary is $BIN, else target/release/lstm-sentiment): the neutral share,
the accuracy on each part, the share of neutral texts it answers with a probability under 0.1
or over 0.9, the positive share among the neutral texts, the accuracy the model
would have if every neutral text were answered positive, and VADER's own accuracy on each part
and in all (compound >= 0 -> positive, as scripts/model/baselines.py scores it).
"""

import argparse

from predictions import positive_probabilities, read_labelled
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file")
    p.add_argument("--model", help="model directory (default: the built-in model)")
    a = p.parse_args()
    gold, texts = read_labelled(a.file)
    probs = positive_probabilities(texts, a.model)
    said = [q > 0.5 for q in probs]
    vader = SentimentIntensityAnalyzer()
    compound = [vader.polarity_scores(t)["compound"] for t in texts]
    neutral = [abs(c) < 0.05 for c in compound]

    def accuracy(answers, part):
        pairs = [(x, g) for x, g, n in zip(answers, gold, neutral) if part(n)]
        return sum(x == g for x, g in pairs) / max(1, len(pairs))

    n = len(texts)
    print(f"texts                                {n}")
    print(f"neutral share                        {sum(neutral) / n:.4f}")
    print(f"model accuracy, neutral texts        {accuracy(said, bool):.4f}")
    print(f"model accuracy, the others           {accuracy(said, lambda x: not x):.4f}")
    # How often the model is sure of a text that says nothing.
    sure = sum(q < 0.1 or q > 0.9 for q, m in zip(probs, neutral) if m) / max(1, sum(neutral))
    print(f"model sure (p < 0.1 or > 0.9), neutral {sure:.4f}")
    print(f"positive share of the neutral texts  {accuracy([True] * n, bool):.4f}")
    prior = [s or m for s, m in zip(neutral, said)]
    print(f"model, neutral answered positive     {accuracy(prior, lambda _: True):.4f}")
    vader_says = [c >= 0 for c in compound]
    print(f"VADER, neutral texts                 {accuracy(vader_says, bool):.4f}")
    print(f"VADER, the others                    {accuracy(vader_says, lambda x: not x):.4f}")
    print(f"VADER (compound >= 0 -> positive)    {accuracy(vader_says, lambda _: True):.4f}")


if __name__ == "__main__":
    main()
