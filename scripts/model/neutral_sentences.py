"""English sentences that say nothing good or bad, each given once with each label, so that what
the model learns from them is an answer of one half. `build_builtin.py --neutral N` adds N of
them (2N rows) to the built-in model's training data for a trial.

What they are for: in the labelled sets many words that carry no sentiment of their own occur
mostly on one side ("customer" in product complaints, "car", "airport", "low"), and a model
trained on them calls a text negative on such a word alone: the built-in model reads "Customer
Service - Seph Quaglia" as negative at 0.98, on "customer". A sentence about such things, seen
as often positive as negative, teaches that they decide nothing.

Where they come from: IMDB's unlabelled reviews (imdb/unsup.txt), split into sentences; kept are
those of 4 to 30 words that VADER scores exactly 0 (no rated word, emoticon or booster in them)
and that hold no negation (a sentence such as "it doesn't work" carries a verdict without a
rated word) and no question or exclamation mark.
"""

import re

SPLIT = re.compile(r"(?<=[.!?])\s+|<br\s*/?>")
NEGATION = re.compile(r"\b(not|no|never|nothing|none|nobody|cannot|without)\b|n't\b", re.I)


def sentences(text):
    """The sentences of one review, as the unlabelled file holds it (one review a line)."""
    return [s.strip() for s in SPLIT.split(text) if s and s.strip()]


def neutral(sentence, analyzer):
    words = sentence.split()
    if not 4 <= len(words) <= 30 or "!" in sentence or "?" in sentence:
        return False
    if NEGATION.search(sentence):
        return False
    return analyzer.polarity_scores(sentence)["compound"] == 0


def neutral_rows(path, n, rng):
    """N sentences of the unlabelled file at PATH that say nothing good or bad, drawn from its
    reviews in a random order, each given as two rows, one of each label."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    reviews = path.read_text(encoding="utf-8").splitlines()
    rng.shuffle(reviews)
    picked, seen = [], set()
    for review in reviews:
        for sentence in sentences(review):
            key = sentence.lower()
            if key not in seen and neutral(sentence, analyzer):
                seen.add(key)
                picked.append(sentence)
                # One sentence a review at most, so that no review's subject dominates.
                break
        if len(picked) == n:
            break
    return [(label, s) for s in picked for label in ("0", "1")]
