"""Scoring Spark DataFrames with lstm-sentiment (docs/scale.md).

    from lstm_sentiment.spark import sentiment_udf, score

    scored = df.select("id", sentiment_udf("hf:owner/name")("text").alias("sentiment"))
    scored = score(df, text_col="text", model="builtin", out_col="sentiment")

Both give a struct column: ``label`` (string), ``score`` (float, the label's probability) and one
float field per label, named after it, with its probability. A null text gives a null result
(a struct of nulls through the pandas UDF of Spark before 4.1).

The model is loaded once per Python worker process, on first use, and kept for every later batch
and task that process runs (Spark reuses its Python workers). ``model`` is ``"builtin"``, a
model directory that exists on every executor (a shared file system), an ``hf:owner/name``
spec (each executor downloads it into its Hub cache once), or the name under which the job
ships a model directory (``spark-submit --archives model.zip#model``, or ``addArchive``, with
``model="model"``): a path that does not exist in the worker is looked up with
``SparkFiles.get``. The driver loads the model too, once, to read its labels for the column's
type.

In each Python worker the library's thread pool gets as many threads as Spark gives the task
(its ``OMP_NUM_THREADS``), unless ``RAYON_NUM_THREADS`` is set (``spark.executorEnv``).
"""

import os
import threading
from typing import Callable, Dict, Iterator, List

from . import Classifier

__all__ = ["sentiment_udf", "score", "result_type"]

_models: Dict[str, Classifier] = {}
_lock = threading.Lock()


def _open(model: str) -> Classifier:
    """Loads ``model`` in this process: built in, a Hub spec, a path here, or a shipped file."""
    if model == "builtin":
        return Classifier.builtin()
    if model.startswith("hf:") or os.path.exists(model):
        return Classifier.load(model)
    try:
        from pyspark import SparkFiles

        shipped = SparkFiles.get(os.path.basename(model.rstrip("/")))
    except Exception:  # no SparkContext or SparkFiles here: only the path as given
        shipped = None
    if shipped and os.path.exists(shipped):
        return Classifier.load(shipped)
    return Classifier.load(model)  # raises lstm_sentiment.Error, naming the path


def _load(model: str) -> Classifier:
    """The process's classifier for ``model``, loaded on first use."""
    with _lock:
        classifier = _models.get(model)
        if classifier is None:
            # The pool starts with the first prediction, so this must come first. Spark tells a
            # Python worker its task's cores through OMP_NUM_THREADS.
            threads = os.environ.get("OMP_NUM_THREADS")
            if threads and "RAYON_NUM_THREADS" not in os.environ:
                os.environ["RAYON_NUM_THREADS"] = threads
            classifier = _models[model] = _open(model)
        return classifier


def result_type(labels: List[str]):
    """The Spark type of a result: struct<label: string, score: float, LABEL: float, ...>."""
    from pyspark.sql.types import FloatType, StringType, StructField, StructType

    return StructType(
        [StructField("label", StringType()), StructField("score", FloatType())]
        + [StructField(label, FloatType()) for label in labels]
    )


def _predict(model: str, texts):
    """One batch: a pyarrow string array in, the StructArray of its results out."""
    return _load(model).predict_arrow(texts)


def _arrow_batches(model: str, batches):
    for texts in batches:
        yield _predict(model, texts)


def _pandas_batches(model: str, batches):
    import pyarrow as pa

    for texts in batches:
        out = _predict(model, pa.array(texts, type=pa.large_string(), from_pandas=True))
        yield pa.Table.from_struct_array(out).to_pandas()


def _has_arrow_udf() -> bool:
    try:
        from pyspark.sql.functions import arrow_udf  # noqa: F401  (Spark 4.1 and later)
    except ImportError:
        return False
    return True


def sentiment_udf(model: str = "builtin") -> Callable:
    """A column function: ``sentiment_udf(model)("text")`` is the struct column of each text's
    label, score and per-label probabilities. An Arrow UDF on Spark 4.1 and later (pyarrow
    arrays straight into the model), an iterator pandas UDF on 3.3 to 4.0; both feed each batch
    to the model as one."""
    returns = result_type(_load(model).labels)
    if _has_arrow_udf():
        import pyarrow as pa
        from pyspark.sql.functions import arrow_udf

        def sentiment(batches: Iterator[pa.Array]) -> Iterator[pa.Array]:
            return _arrow_batches(model, batches)

        return arrow_udf(sentiment, returns)

    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    def sentiment(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        return _pandas_batches(model, batches)

    return pandas_udf(sentiment, returns)


def _map_batches(model: str, text_col: str, out_col: str, batches):
    import pyarrow as pa

    for batch in batches:
        out = _predict(model, batch.column(text_col))
        yield pa.RecordBatch.from_arrays(
            batch.columns + [out], names=batch.schema.names + [out_col]
        )


def score(df, text_col: str = "text", model: str = "builtin", out_col: str = "sentiment"):
    """``df`` with one more column, ``out_col``: each ``text_col`` text's label, score and
    per-label probabilities, as ``sentiment_udf`` gives them. Runs through ``mapInArrow``:
    Arrow record batches in and out, every other column passed through as it is."""
    from pyspark.sql.types import StructField, StructType

    if text_col not in df.columns:
        raise ValueError(f"score: no column {text_col!r} (columns: {', '.join(df.columns)})")
    if out_col in df.columns:
        raise ValueError(f"score: the DataFrame already has a column {out_col!r}")
    returns = result_type(_load(model).labels)
    schema = StructType(df.schema.fields + [StructField(out_col, returns)])

    def scored(batches):
        return _map_batches(model, text_col, out_col, batches)

    return df.mapInArrow(scored, schema)
