"""Short English review phrases whose sentiment lies in a pattern rather than in a rated word,
made from a word list written for them. `build_builtin.py --en-phrases N` adds N of them to the
built-in model's training data for a trial.

What they are for: the VADER phrases teach rated words ("friendly", "dirty") and their negation
("not clean"), but reviews of every kind also say what they mean with words that are negative on
their own: "no problems at all", "can't fault it", "nothing to complain about" are praise, and
"would stay again" or "will never order again" carry the verdict without a rated word. In the
labelled sets "problems", "fault" and "never" occur mostly in complaints, so a model trained on
them reads these as negative.

Every frame is seen with both labels, so that what fills it decides and the frame's own words
carry no label: "no problems" is praise and "no hot water" a complaint; "so many options" is
praise and "so many delays" a complaint; "would stay again" and "would never stay again".
"""


def words(text):
    """The items of a list written as one string, "_" joining the words of an item."""
    return [w.replace("_", " ") for w in text.split()]


# Things that go wrong: "no problems" (praise), "so many problems" (complaint).
TROUBLES = words("""problems issues complaints hassle fuss delays bugs crashes stains noise smells
hidden_fees extra_charges mistakes glitches waiting queues errors""")
# Things people want: "no hot water" (complaint), "so many options" (praise).
WANTS = words("""hot_water wifi help parking space flavour options choice legroom signal towels
storage battery_life extras answers light""")
# Frames around such a thing: praise with a trouble, a complaint with a want...
ABSENCE = ["no {x}", "no {x} at all", "no {x} whatsoever", "zero {x}", "never had any {x}",
           "there was no {x}", "without any {x}", "not a hint of {x}"]
# ...and the other way round.
PLENTY = ["so many {x}", "nothing but {x}", "lots of {x}", "plenty of {x}", "loads of {x}",
          "{x} everywhere", "so much {x}", "endless {x}"]
# Verdicts without a rated word, each beside its opposite.
VERBS = ["stay", "eat", "order", "buy", "shop", "go", "book", "fly", "come"]
WHERE = ["here", "there", "with them", ""]
THINGS = """hotel place restaurant shop store app phone product service company seller
airline driver garage salon clinic bank course""".split()
PRAISE = [
    "can't fault it", "couldn't fault the {n}", "hard to fault", "nothing to complain about",
    "can't complain", "couldn't ask for more", "couldn't be happier", "the {n} didn't disappoint",
    "did not let us down", "better than expected", "even better than the photos",
    "exceeded our expectations", "worth every penny", "money well spent", "would {v} {w} again",
    "we will {v} {w} again", "will definitely be back", "we'll be back", "can't wait to go back",
    "would recommend this {n} to anyone", "i'd recommend it", "my new favourite {n}",
]
COMPLAINT = [
    "the {n} was at fault", "had to complain twice", "so much to complain about",
    "couldn't be less happy", "the {n} was a disappointment", "let us down",
    "worse than expected", "nothing like the photos", "fell short of our expectations",
    "not worth the money", "a waste of money", "would never {v} {w} again",
    "we will never {v} {w} again", "will not be back", "we won't be back",
    "never going back", "would not recommend this {n} to anyone", "i wouldn't recommend it",
    "my least favourite {n}",
]
# Rated clauses to stand beside a phrase, so that the phrase is seen in longer text too.
GOOD = ["great staff", "the room was clean", "lovely food", "fast delivery", "friendly people",
        "easy to use", "good value", "comfortable bed", "works perfectly", "quick service"]
BAD = ["rude staff", "the room was dirty", "cold food", "late delivery", "unhelpful people",
       "hard to use", "overpriced", "uncomfortable bed", "stopped working", "slow service"]
JOINS = [", ", ". ", " and ", "! ", " - "]
ENDS = ["", ".", "!", "!!"]


def phrase(rng, positive):
    """One phrase for the given label: a thing in a frame of absence or plenty, or a verdict."""
    if rng.random() < 0.5:
        absence = rng.random() < 0.5
        # Absence of trouble and plenty of what one wants are praise.
        things = TROUBLES if absence == positive else WANTS
        frame = rng.choice(ABSENCE if absence else PLENTY)
        return frame.format(x=rng.choice(things))
    template = rng.choice(PRAISE if positive else COMPLAINT)
    text = template.format(v=rng.choice(VERBS), w=rng.choice(WHERE), n=rng.choice(THINGS))
    return " ".join(text.split())


def phrase_rows(count, rng):
    """`count` (label, text) rows, half of each label: a phrase alone, or beside a rated clause of
    the same label, either side of it."""
    rows = []
    while len(rows) < count:
        positive = len(rows) % 2 == 0
        text = phrase(rng, positive)
        if rng.random() < 0.5:
            rated = rng.choice(GOOD if positive else BAD)
            pair = [rated, text] if rng.random() < 0.5 else [text, rated]
            text = rng.choice(JOINS).join(pair)
        if rng.random() < 0.5:
            text = text[0].upper() + text[1:]
        end = rng.choice(ENDS + [" :)" if positive else " :("])
        rows.append(("1" if positive else "0", text + end))
    return rows
