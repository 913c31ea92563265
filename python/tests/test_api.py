"""The Python API against the command-line tool, and its edges: Arrow types, nulls, empty texts,
errors, threads, the Hub cache."""

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import lstm_sentiment
from conftest import cli_predict

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def classifier():
    return lstm_sentiment.Classifier.builtin()


def feature_width(classifier):
    """The width of what the head reads: the final hidden state of each direction."""
    config = classifier.config
    return config["hidden_size"] * (2 if config.get("bidirectional") else 1)


def assert_same(prediction, expected):
    """A prediction (a dict of predict, or a CLI line) equals another to TOLERANCE."""
    assert prediction["label"] == expected["label"]
    assert abs(prediction["score"] - expected["score"]) <= TOLERANCE
    assert list(prediction["probs"]) == list(expected["probs"])
    for label, p in expected["probs"].items():
        assert abs(prediction["probs"][label] - p) <= TOLERANCE, label


def test_predict_gives_the_cli_numbers(classifier, texts, tmp_path):
    expected = cli_predict(texts, tmp_path)
    batch = classifier.predict(texts)
    assert isinstance(batch, list) and len(batch) == len(texts)
    for got, want in zip(batch, expected):
        assert_same(got, want)
    for text, want in zip(texts[:5], expected):
        assert_same(classifier.predict(text), want)
    assert classifier.predict(tuple(texts[:3])) == batch[:3]
    assert classifier.predict(t for t in texts[:3]) == batch[:3]


def test_empty_texts_are_classified(classifier, tmp_path):
    (want,) = cli_predict([""], tmp_path)
    assert_same(classifier.predict(""), want)
    assert classifier.predict([]) == []
    assert classifier.embed([]).shape == (0, feature_width(classifier))


def arrow_rows(out, labels):
    """predict_arrow's StructArray as predict's dicts (None for a null row)."""
    rows = []
    for row in out.to_pylist():
        if row is None:
            rows.append(None)
            continue
        rows.append({
            "label": row["label"],
            "score": row["score"],
            "probs": {label: row[label] for label in labels},
        })
    return rows


@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string(), pa.string_view()])
def test_predict_arrow_takes_each_string_type(classifier, texts, string_type):
    out = classifier.predict_arrow(pa.array(texts, type=string_type))
    assert isinstance(out, pa.StructArray)
    assert out.type == pa.struct(
        [("label", pa.string()), ("score", pa.float32())]
        + [(label, pa.float32()) for label in classifier.labels]
    )
    assert arrow_rows(out, classifier.labels) == classifier.predict(texts)


def test_predict_arrow_keeps_nulls_and_empty_strings(classifier, texts):
    given = [texts[0], None, "", None, texts[1]]
    out = classifier.predict_arrow(pa.array(given, type=pa.large_string()))
    assert len(out) == 5
    assert out.is_null().to_pylist() == [False, True, False, True, False]
    assert out.field("label").is_null().to_pylist() == [False, True, False, True, False]
    rows = arrow_rows(out, classifier.labels)
    assert rows[1] is None and rows[3] is None
    assert [rows[0], rows[2], rows[4]] == classifier.predict([texts[0], "", texts[1]])
    # A slice starts at an offset into the same buffers.
    sliced = classifier.predict_arrow(pa.array(given, type=pa.string()).slice(2, 3))
    assert arrow_rows(sliced, classifier.labels) == [rows[2], None, rows[4]]
    assert len(classifier.predict_arrow(pa.array([], type=pa.string()))) == 0
    assert classifier.predict_arrow(pa.array([None, None], type=pa.string())).null_count == 2


def test_predict_arrow_refuses_what_is_not_text(classifier):
    with pytest.raises(TypeError, match="(?i)int64"):
        classifier.predict_arrow(pa.array([1, 2]))
    with pytest.raises(TypeError, match="list"):
        classifier.predict_arrow(["a list", "of str"])


def test_predict_refuses_what_is_not_text(classifier):
    with pytest.raises(TypeError, match="text 1 is a int"):
        classifier.predict(["fine", 3])
    with pytest.raises(TypeError):
        classifier.predict(b"bytes")
    with pytest.raises(TypeError):
        classifier.predict(42)


def test_a_missing_model_names_its_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(lstm_sentiment.Error, match="no-such-model") as caught:
        lstm_sentiment.Classifier.load(missing)
    assert str(missing) in str(caught.value)
    with pytest.raises(lstm_sentiment.Error, match="no-such-model"):
        lstm_sentiment.Classifier.load(str(missing))


def test_threads_sharing_one_classifier_agree(classifier, texts):
    expected = classifier.predict(texts)
    results = [None] * 4
    failures = []

    def work(i):
        try:
            results[i] = [classifier.predict(texts) for _ in range(5)]
        except Exception as e:  # reported below, not lost in the thread
            failures.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    for per_thread in results:
        assert all(run == expected for run in per_thread)


def test_embed_gives_the_feature_vectors(classifier, texts):
    width = feature_width(classifier)
    vectors = classifier.embed(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), width)
    assert vectors.flags.writeable
    np.testing.assert_array_equal(classifier.embed(texts[3]), vectors[3:4])
    assert np.isfinite(vectors).all()
    assert not np.array_equal(vectors[0], vectors[1])


def test_labels_and_config(classifier):
    assert classifier.labels == ["negative", "positive"]
    assert classifier.config["labels"] == classifier.labels
    assert "Classifier(lstm" in repr(classifier)


def test_a_model_directory_and_a_hub_spec_load(classifier, texts, tmp_path, monkeypatch):
    classifier.save(tmp_path / "saved")
    assert lstm_sentiment.Classifier.load(tmp_path / "saved").predict(texts) == classifier.predict(texts)

    # The Hub cache as huggingface_hub lays it out; offline, so no network is tried.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / "models--acme--builtin"
    classifier.save(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    from_hub = lstm_sentiment.Classifier.load("hf:acme/builtin", offline=True)
    assert from_hub.predict(texts) == classifier.predict(texts)
    with pytest.raises(lstm_sentiment.Error, match="acme/nothing"):
        lstm_sentiment.Classifier.load("hf:acme/nothing", offline=True)


def test_help_shows_the_api():
    doc = lstm_sentiment.Classifier.predict.__doc__
    assert "probs" in doc and "predict --json" in doc
    assert "GIL" in lstm_sentiment.Classifier.__doc__
