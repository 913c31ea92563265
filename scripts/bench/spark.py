#!/usr/bin/env python3
"""Rows/s of lstm_sentiment.spark against `lstm-sentiment predict` on the same texts and cores,
and against the PyTorch twin inside an iterator pandas_udf, on Spark local clusters of 1 and 2
executors of one core each (docs/scale.md):

    scripts/python.sh scripts/bench/spark.py [--rows 200000] [--runs 3] [--executors 1,2]

The texts are SST-2's dev and test sentences (DATA, default ../shared/data) repeated to --rows,
in one file: `predict --input FILE --threads N` reads it, and Spark reads it with spark.read.text,
cached in the executors before anything is timed. Each Spark figure is a job that scores every
row into the `noop` sink, after one untimed job that starts the Python workers and loads the
models; the median of --runs. Needs Java 17+, the lstm_sentiment wheel installed in this
interpreter's environment (`maturin build --release -m python/Cargo.toml`, then pip install the
wheel) and the packages of the requirements file (torch for the twin). BIN names the binary
(default target/release/lstm-sentiment, built when missing).
"""
# requirements: scripts/bench/requirements_spark.txt

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("DATA", ROOT.parent / "shared" / "data"))
BIN = Path(os.environ.get("BIN", ROOT / "target" / "release" / "lstm-sentiment"))
TWIN_DIR = ROOT / "scripts" / "parity"
BUILTIN_DIR = ROOT / "assets" / "default"
TWIN_BATCH = 256


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--executors", default="1,2", help="comma-separated executor counts")
    p.add_argument("--skip", default="", help="comma-separated: cli,udf,score,torch")
    p.add_argument("--json-out", type=Path)
    return p.parse_args()


def write_texts(rows: int, path: Path) -> None:
    texts = []
    for name in ("dev.tsv", "test.tsv"):
        for line in (DATA / "sst2" / name).read_text(encoding="utf-8").splitlines():
            texts.append(line.split("\t", 1)[1])
    path.write_text("".join(texts[i % len(texts)] + "\n" for i in range(rows)), encoding="utf-8")


def timed(fn, runs: int) -> dict:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "median": statistics.median(seconds), "load": os.getloadavg()[0]}


def cli(path: Path, threads: int, runs: int) -> dict:
    if not BIN.exists():
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    args = [str(BIN), "predict", "--input", str(path), "--threads", str(threads)]
    return timed(lambda: subprocess.run(args, check=True, stdout=subprocess.DEVNULL), runs)


def twin_udf():
    """What a user would otherwise write: the PyTorch twin of the model in an iterator
    pandas_udf, loaded once per worker, batches of 256 texts."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    def sentiment(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        import torch
        import torch_twin as twin

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        model, tokenizer, config = twin.load_model_dir(str(BUILTIN_DIR))
        labels = config["labels"]
        for texts in batches:
            probs = []
            for i in range(0, len(texts), TWIN_BATCH):
                _, logits, _ = twin.run(model, tokenizer, config, list(texts[i:i + TWIN_BATCH]))
                probs.append(torch.softmax(logits, dim=-1))
            p = torch.cat(probs).numpy()
            best = p.argmax(axis=1)
            out = {"label": [labels[j] for j in best], "score": p.max(axis=1)}
            out.update({label: p[:, j] for j, label in enumerate(labels)})
            yield pd.DataFrame(out)

    returns = "label string, score float, negative float, positive float"
    return pandas_udf(sentiment, returns)


def spark_runs(path: Path, executors: int, args, skip) -> dict:
    import pyspark
    from pyspark.sql import SparkSession

    import lstm_sentiment.spark as ls

    os.environ.setdefault("SPARK_HOME", os.path.dirname(pyspark.__file__))
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        SparkSession.builder.master(f"local-cluster[{executors},1,2048]")
        .appName("lstm-sentiment bench")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.scheduler.minRegisteredResourcesRatio", "1.0")
        # The twin's module; PYTHONPATH may add where torch is.
        .config("spark.executorEnv.PYTHONPATH",
                os.pathsep.join(filter(None, [str(TWIN_DIR), os.environ.get("PYTHONPATH")])))
        .getOrCreate()
    )
    try:
        df = session.read.text(str(path)).repartition(4 * executors).cache()
        assert df.count() == args.rows
        jobs = {
            "udf": lambda: df.select(ls.sentiment_udf("builtin")("value").alias("s")),
            "score": lambda: ls.score(df, text_col="value"),
            "torch": lambda: df.select(twin_udf()("value").alias("s")),
        }
        out = {}
        for name, make in jobs.items():
            if name in skip:
                continue
            sink = lambda: make().write.format("noop").mode("overwrite").save()  # noqa: E731
            sink()  # starts the Python workers, loads the model in each
            out[name] = timed(sink, args.runs)
            print(f"  spark {name}, {executors} executor(s): {out[name]['median']:.2f} s", file=sys.stderr)
        return out
    finally:
        session.stop()


def main() -> int:
    args = parse_args()
    skip = set(filter(None, args.skip.split(",")))
    try:
        import lstm_sentiment  # noqa: F401
    except ImportError:
        print("spark.py: lstm_sentiment is not installed here: build the wheel with "
              "`maturin build --release -m python/Cargo.toml` and pip install it", file=sys.stderr)
        return 2
    work = ROOT / "target" / "bench-spark"
    work.mkdir(parents=True, exist_ok=True)
    path = work / "texts.txt"
    write_texts(args.rows, path)
    results = {"rows": args.rows, "cpus": os.cpu_count(), "cli": {}, "spark": {}}
    for n in map(int, args.executors.split(",")):
        if "cli" not in skip:
            results["cli"][n] = cli(path, n, args.runs)
            print(f"  cli --threads {n}: {results['cli'][n]['median']:.2f} s", file=sys.stderr)
        results["spark"][n] = spark_runs(path, n, args, skip)

    print(f"{args.rows} texts (SST-2 dev+test repeated); medians of {args.runs}; rows/s per core")
    print("| cores | `predict --threads N` | sentiment_udf | score (mapInArrow) | PyTorch pandas_udf |")
    print("|---|---|---|---|---|")
    for n in results["spark"]:
        def rate(r):
            return f"{args.rows / r['median'] / n:,.0f}" if r else "-"
        s = results["spark"][n]
        print(f"| {n} | {rate(results['cli'].get(n))} | {rate(s.get('udf'))} | "
              f"{rate(s.get('score'))} | {rate(s.get('torch'))} |")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
