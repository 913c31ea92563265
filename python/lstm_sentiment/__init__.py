"""lstm-sentiment: text classification with LSTM/GRU/RNN encoders, from Python.

>>> import lstm_sentiment
>>> classifier = lstm_sentiment.Classifier.builtin()
>>> classifier.predict("great")["label"]
'positive'

The model runs in Rust (the lstm-sentiment library), outside the GIL, on the library's own
thread pool: every core unless RAYON_NUM_THREADS says otherwise. `lstm_sentiment.spark` scores
Spark DataFrames.
"""

import os as _os

# candle's own matrix products are only the small ones around the recurrent kernel, and cost more
# than they save split over threads; the command-line tool sets the same default. It must be set
# before the first model runs.
_os.environ.setdefault("CANDLE_NUM_THREADS", "1")

from ._native import Classifier, Error, __version__  # noqa: E402

__all__ = ["Classifier", "Error", "__version__"]
