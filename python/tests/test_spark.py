"""lstm_sentiment.spark on a real cluster of one machine: `local-cluster[2,1,1024]` starts two
executor JVMs, each with its own Python workers. Every row is checked against the command-line
tool, and a hook in the workers (worker_hook/sitecustomize.py) records which processes loaded
the model and scored rows."""

import os
import shutil
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import lstm_sentiment
from conftest import cli_predict, review_texts

ROWS = 20_000
NULL_ROWS = 10
PARTITIONS = 8
# Probabilities agree with the CLI's to float32 rounding; the last bits depend on which texts
# share a batch.
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def spark(request, tmp_path_factory):
    import pyspark
    from pyspark.sql import SparkSession

    log = tmp_path_factory.mktemp("worker-log")
    # The pip package is a whole Spark: its folder serves as SPARK_HOME for the executors.
    os.environ.setdefault("SPARK_HOME", os.path.dirname(pyspark.__file__))
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        SparkSession.builder.master("local-cluster[2,1,1024]")
        .appName("lstm-sentiment tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Both executors before the first task, so that both get work.
        .config("spark.scheduler.minRegisteredResourcesRatio", "1.0")
        .config("spark.executorEnv.PYTHONPATH", str(Path(__file__).parent / "worker_hook"))
        .config("spark.executorEnv.LSTM_SENTIMENT_TEST_LOG", str(log))
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
        .getOrCreate()
    )
    request.addfinalizer(session.stop)
    return session, log


def corpus():
    """ROWS texts made of three of the repository's reviews each."""
    reviews = review_texts()[:-1]  # all but the very long one
    n = len(reviews)
    return [
        f"{reviews[i % n]} {reviews[(i // n) % n]} {reviews[(i // n // n) % n]}"
        for i in range(ROWS)
    ]


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    texts = corpus()
    return texts, cli_predict(texts, tmp_path_factory.mktemp("cli"))


@pytest.fixture
def frame(spark, expected):
    session, log = spark
    texts, _ = expected
    rows = [(i, t) for i, t in enumerate(texts)] + [(ROWS + i, None) for i in range(NULL_ROWS)]
    df = session.createDataFrame(
        session.sparkContext.parallelize(rows, PARTITIONS), "id long, text string"
    )
    assert df.rdd.getNumPartitions() >= PARTITIONS
    for f in log.iterdir():
        f.unlink()
    return df


def worker_log(log):
    """Per worker process: the models it loaded and the rows it scored."""
    loads, rows = defaultdict(list), Counter()
    for f in log.iterdir():
        pid = int(f.stem)
        for line in f.read_text().splitlines():
            kind, what = line.split("\t")
            if kind == "load":
                loads[pid].append(what)
            else:
                rows[pid] += int(what)
    return loads, rows


def check(results, expected, log, labels, null_struct=None):
    """Every row is the CLI's answer; several worker processes, not the driver, scored them.
    A null text gives a null, or `null_struct` where that is what the UDF can return."""
    _, want = expected
    assert len(results) == ROWS + NULL_ROWS
    for row_id, got in results:
        if row_id >= ROWS:
            assert got is None or got == null_struct, got
            continue
        cli = want[row_id]
        assert got["label"] == cli["label"], row_id
        assert abs(got["score"] - cli["score"]) <= TOLERANCE, row_id
        for label in labels:
            assert abs(got[label] - cli["probs"][label]) <= TOLERANCE, (row_id, label)
    loads, rows = worker_log(log)
    assert sum(rows.values()) == ROWS + NULL_ROWS
    assert len(rows) >= 2, f"rows were scored by {len(rows)} Python worker process(es)"
    assert os.getpid() not in rows
    for pid, models in loads.items():
        assert len(models) == len(set(models)), f"worker {pid} loaded a model twice: {models}"


@pytest.mark.parametrize("kind", ["arrow", "pandas"])
def test_sentiment_udf_scores_every_row_as_the_cli_does(spark, frame, expected, kind, monkeypatch):
    import lstm_sentiment.spark
    from lstm_sentiment.spark import sentiment_udf

    _, log = spark
    # Spark 4.1 and later get an Arrow UDF; the iterator pandas UDF of older versions is checked
    # here too.
    if kind == "pandas":
        monkeypatch.setattr(lstm_sentiment.spark, "_has_arrow_udf", lambda: False)
    from pyspark.util import PythonEvalType

    udf = sentiment_udf("builtin")
    assert udf.evalType == {
        "arrow": PythonEvalType.SQL_SCALAR_ARROW_ITER_UDF,
        "pandas": PythonEvalType.SQL_SCALAR_PANDAS_ITER_UDF,
    }[kind]
    scored = frame.select("id", udf("text").alias("s"))
    assert scored.schema["s"].dataType.fieldNames() == ["label", "score", "negative", "positive"]
    results = [(r["id"], r["s"] and r["s"].asDict()) for r in scored.collect()]
    # A pandas UDF returns rows of a DataFrame, which cannot be null: a null text's is all nulls.
    nulls = dict.fromkeys(["label", "score", "negative", "positive"]) if kind == "pandas" else None
    check(results, expected, log, ["negative", "positive"], nulls)


def test_score_adds_a_column_through_map_in_arrow(spark, frame, expected, tmp_path, monkeypatch):
    from lstm_sentiment.spark import score

    session, log = spark
    # A model directory shipped to the executors as an archive unpacked under the name
    # `shipped-model`, which is a path only in the driver's working directory.
    monkeypatch.chdir(tmp_path)
    lstm_sentiment.Classifier.builtin().save(tmp_path / "shipped-model")
    archive = shutil.make_archive(str(tmp_path / "model"), "zip", tmp_path / "shipped-model")
    session.sparkContext.addArchive(f"{archive}#shipped-model")
    scored = score(frame, text_col="text", model="shipped-model", out_col="sentiment")
    assert scored.columns == ["id", "text", "sentiment"]
    results = []
    texts, _ = expected
    for r in scored.collect():
        if r["id"] < ROWS:
            assert r["text"] == texts[r["id"]]
        results.append((r["id"], r["sentiment"] and r["sentiment"].asDict()))
    check(results, expected, log, ["negative", "positive"])
    loads, _ = worker_log(log)
    assert all(models == ["shipped-model"] for models in loads.values()), loads


def test_score_names_a_missing_column(spark, frame):
    from lstm_sentiment.spark import score

    with pytest.raises(ValueError, match="'review'"):
        score(frame, text_col="review")
