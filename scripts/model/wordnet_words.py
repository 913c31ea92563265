"""Rated words that VADER's list lacks, found through WordNet: an adjective or adverb that shares a
synset with words VADER rates takes their direction ("immaculate", "comfy", "attentive");
with `satellites`, so does one whose synset has no rated word and is a satellite of a head
synset whose words VADER rates at least HEAD_MIN ("convenient" of "handy"). `build_builtin.py
--wordnet own|satellites` adds them to the lexicon rows and the phrases made from them, for a
trial.

What they are for: the words reviews of services praise or blame with are rare in film and
product reviews and often missing from VADER's list, so the model has never seen them rated.
WordNet (Princeton's licence: use, copy and distribution allowed) groups many of them with
words VADER rates; not all ("spotless" and "accommodating" share no synset with a rated word).

WordNet comes from Debian's `wordnet-base` package (its files in /usr/share/wordnet; another
folder with WORDNET). A word takes a direction only when every rated synset it is in agrees,
and a synset only when its rated words agree; entries of several words, and words VADER
rates itself, are left out.
"""

import os
from pathlib import Path

WORDNET = Path(os.environ.get("WORDNET", "/usr/share/wordnet"))
# How strongly a rated word must be rated to pass its direction on: to its synset, and from a
# head synset to its satellites.
SEED_MIN = 1.0
HEAD_MIN = 2.0


def synsets(path):
    """offset -> (lemmas, [offsets of the head synsets it is a satellite of ("&")])"""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(" "):
            continue  # the licence at the top of the file
        fields = line.split(" | ")[0].split()
        offset, n = fields[0], int(fields[3], 16)
        lemmas = [fields[4 + 2 * i].split("(")[0].lower() for i in range(n)]
        at = 4 + 2 * n
        pointers = int(fields[at])
        heads = []
        for i in range(pointers):
            symbol, target = fields[at + 1 + 4 * i], fields[at + 2 + 4 * i]
            if symbol == "&":
                heads.append(target)
        out[offset] = (lemmas, heads)
    return out


def direction(ratings):
    """+1 or -1 when every rating agrees, else 0."""
    signs = {1 if r > 0 else -1 for r in ratings}
    return signs.pop() if len(signs) == 1 else 0


def wordnet_rows(vader, satellites=False):
    """(label, word) rows for words VADER does not rate, from `vader` (word -> mean rating)."""
    if not (WORDNET / "data.adj").exists():
        raise SystemExit(f"wordnet_words: no {WORDNET / 'data.adj'}; install Debian's "
                         "wordnet-base (apt-get install wordnet-base) or set WORDNET")
    seeds = {w: r for w, r in vader.items() if abs(r) >= SEED_MIN}

    def rated(lemmas, least):
        return direction([seeds[w] for w in lemmas if w in seeds and abs(seeds[w]) >= least])

    votes = {}
    for name in ("data.adj", "data.adv"):
        sets = synsets(WORDNET / name)
        own = {o: rated(lemmas, SEED_MIN) for o, (lemmas, _) in sets.items()}
        strong = {o: rated(lemmas, HEAD_MIN) for o, (lemmas, _) in sets.items()}
        for offset, (lemmas, heads) in sets.items():
            d = own[offset]
            if satellites and d == 0 and not any(w in seeds for w in lemmas):
                # A satellite with no rated word of its own takes its heads' direction.
                d = direction([strong[h] for h in heads if strong.get(h)])
            if d == 0:
                continue
            for w in lemmas:
                if w.isalpha() and w not in vader:
                    votes.setdefault(w, set()).add(d)
    return sorted(("1" if d.pop() > 0 else "0", w) for w, d in votes.items() if len(d) == 1)
