"""Loaded by the Spark tests' Python workers (through PYTHONPATH) to record, per process, the
models it loaded and the rows it scored, in files under $LSTM_SENTIMENT_TEST_LOG. It wraps
lstm_sentiment.spark's own functions and changes nothing they return."""

import os

_log = os.environ.get("LSTM_SENTIMENT_TEST_LOG")
if _log:
    import lstm_sentiment.spark as _spark

    def _write(kind, what):
        with open(os.path.join(_log, f"{os.getpid()}.log"), "a", encoding="utf-8") as f:
            f.write(f"{kind}\t{what}\n")

    _open, _predict = _spark._open, _spark._predict

    def _logged_open(model):
        _write("load", model)
        return _open(model)

    def _logged_predict(model, texts):
        out = _predict(model, texts)
        _write("rows", len(texts))
        return out

    _spark._open, _spark._predict = _logged_open, _logged_predict
