#!/usr/bin/env python3
# requirements: scripts/bench/requirements_serve.txt
"""Load on `lstm-sentiment serve`, and on the same model in PyTorch behind FastAPI + uvicorn.

    scripts/python.sh scripts/bench/serve.py [--clients 1,8,64,256] [--requests 2000]
        [--texts-per-request 1] [--servers ours,torch] [--threads 2] [--json-out FILE]
        [--serve-args "--max-concurrent-requests 32"]

Both servers run on this machine and listen on 127.0.0.1 only; each serves the same model
directory (--model, default assets/default: the built-in model's files). For each number of
concurrent clients, a load generator in this process (asyncio, HTTP/1.1 keep-alive connections,
--client-processes processes) sends --requests `POST /predict` requests of
--texts-per-request texts drawn in turn from scripts/model/everyday_reviews.tsv, and reports
requests/s, texts/s, the 50th and 99th percentile latency (from sending a request to reading
its whole answer), and the answers that were not 200, by status (with more clients than
`serve --max-concurrent-requests`, those must all be 429). After the last level it reads
the server's peak resident memory (VmHWM). Each level stops after --max-seconds at the latest,
so a run is bounded. One warm-up of 50 requests precedes each server's levels.

The load generator shares the machine with the server: on few cores it takes CPU the server
would otherwise have, and all figures are for that setup; state the machine when quoting them.

The PyTorch side: scripts/parity/torch_twin.py's `Classifier` loaded from the same directory,
in a FastAPI app with a plain `def` endpoint (run in uvicorn's thread pool, as FastAPI's
documentation shows), one uvicorn worker, torch.set_num_threads(--threads). It answers
`/predict` in the same shape as lstm-sentiment. `twin-server` runs it alone:

    scripts/python.sh scripts/bench/serve.py twin-server --model assets/default --port 8081
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import List, Union

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"


def twin_app(model_dir: str, threads: int):
    """The FastAPI app serving the PyTorch twin."""
    sys.path.insert(0, os.path.join(ROOT, "scripts", "parity"))
    import torch
    import torch_twin
    from fastapi import FastAPI
    from pydantic import BaseModel

    torch.set_num_threads(threads)
    model, tokenizer, config = torch_twin.load_model_dir(model_dir)
    labels = config["labels"]
    app = FastAPI()

    class PredictRequest(BaseModel):
        inputs: Union[str, List[str]]
        raw_scores: bool = False

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/predict")
    def predict(request: PredictRequest):
        texts = [request.inputs] if isinstance(request.inputs, str) else request.inputs
        _, logits, _ = torch_twin.run(model, tokenizer, config, texts)
        scores = logits if request.raw_scores else torch.softmax(logits, dim=-1)
        ranked = [
            sorted(
                ({"label": label, "score": s} for label, s in zip(labels, row)),
                key=lambda x: -x["score"],
            )
            for row in scores.tolist()
        ]
        return ranked if isinstance(request.inputs, list) else ranked[0]

    return app


def run_twin_server(args) -> int:
    import uvicorn

    app = twin_app(args.model, args.threads)
    uvicorn.run(app, host=HOST, port=args.port, log_level="warning", workers=1)
    return 0


# --- the load generator ---------------------------------------------------------------------


async def _client(connection, bodies, state, deadline, latencies, statuses):
    """One client: a keep-alive connection sending requests one after another."""
    reader, writer = connection
    try:
        while state["next"] < state["end"] and time.monotonic() < deadline:
            i = state["next"]
            state["next"] += 1
            body = bodies[i % len(bodies)]
            head = (
                f"POST /predict HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            start = time.perf_counter()
            writer.write(head + body)
            status = int((await reader.readline()).split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, state["port"])
    finally:
        writer.close()


def _process_load(port, clients, requests, bodies, max_seconds, barrier, results):
    """One process's share of a level: `clients` connections, `requests` requests in all. The
    clock starts once every process has opened its connections."""

    async def main():
        state = {"port": port, "next": 0, "end": requests}
        latencies, statuses = [], {}
        connections = await asyncio.gather(
            *(asyncio.open_connection(HOST, port) for _ in range(clients))
        )
        barrier.wait()
        deadline = time.monotonic() + max_seconds
        start = time.monotonic()
        await asyncio.gather(
            *(_client(c, bodies, state, deadline, latencies, statuses) for c in connections)
        )
        return start, time.monotonic(), latencies, statuses

    results.put(asyncio.run(main()))


def load(port, clients, requests, bodies, max_seconds, processes):
    """Runs one level; returns (seconds, latencies, statuses)."""
    processes = max(1, min(processes, clients))
    shares = [(clients // processes) + (p < clients % processes) for p in range(processes)]
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_process_load, args=(
            port, c, requests * c // clients, bodies, max_seconds, barrier, results))
        for c in shares
    ]
    for worker in workers:
        worker.start()
    parts = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    seconds = max(p[1] for p in parts) - min(p[0] for p in parts)
    latencies = sorted(x for p in parts for x in p[2])
    statuses = {}
    for p in parts:
        for status, n in p[3].items():
            statuses[status] = statuses.get(status, 0) + n
    return seconds, latencies, statuses


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# --- the servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen, patience: float = 120.0):
    begin = time.monotonic()
    while time.monotonic() - begin < patience:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server never answered /health with 200")


def check_answer(port: int):
    """One request that must be answered 200 with the labels ranked: a server that refuses the
    load's requests would measure nothing."""
    body = json.dumps({"inputs": "I loved it"}).encode()
    request = urllib.request.Request(f"http://{HOST}:{port}/predict", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        answer = json.load(r)
    if not (isinstance(answer, list) and answer and "label" in answer[0]):
        raise RuntimeError(f"unexpected answer to /predict: {answer}")
    return answer


def start_server(name: str, args):
    port = free_port()
    if name == "ours":
        command = [args.bin, "--threads", str(args.threads), "serve", "--model", args.model,
                   "--port", str(port), *args.serve_args.split()]
        env = dict(os.environ)
    else:
        command = [sys.executable, os.path.abspath(__file__), "twin-server", "--model",
                   args.model, "--port", str(port), "--threads", str(args.threads)]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_healthy(port, process)
    print(f"{name}: {check_answer(port)}", file=sys.stderr)
    return process, port


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def read_texts() -> list[str]:
    path = os.path.join(ROOT, "scripts", "model", "everyday_reviews.tsv")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t", 1)[1] for line in f if "\t" in line]


def bench(args) -> int:
    texts = read_texts()
    k = args.texts_per_request
    bodies = []
    for i in range(len(texts)):
        chosen = [texts[(i + j) % len(texts)] for j in range(k)]
        bodies.append(json.dumps({"inputs": chosen[0] if k == 1 else chosen}).encode())
    levels = [int(c) for c in args.clients.split(",")]
    rows = []
    for name in args.servers.split(","):
        process, port = start_server(name, args)
        try:
            load(port, 1, 50, bodies, args.max_seconds, 1)
            for clients in levels:
                seconds, latencies, statuses = load(
                    port, clients, args.requests, bodies, args.max_seconds,
                    args.client_processes,
                )
                done = len(latencies)
                rows.append({
                    "server": name, "clients": clients, "requests": done,
                    "requests_per_s": done / seconds, "texts_per_s": done * k / seconds,
                    "p50_ms": 1000 * percentile(latencies, 0.50),
                    "p99_ms": 1000 * percentile(latencies, 0.99),
                    "not_200": {s: n for s, n in statuses.items() if s != 200},
                })
                print_row(rows[-1], file=sys.stderr)
            rss = peak_rss_mb(process.pid)
            for row in rows:
                if row["server"] == name:
                    row["peak_rss_mb"] = rss
        finally:
            process.terminate()
            process.wait(timeout=60)
    print_table(rows)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)
    return 0


def print_row(row, file=sys.stdout):
    errors = ",".join(f"{s}:{n}" for s, n in sorted(row["not_200"].items())) or "0"
    rss = f"{row['peak_rss_mb']:.0f}" if "peak_rss_mb" in row else "-"
    print(f"{row['server']:<6} {row['clients']:>7} {row['requests']:>8} "
          f"{row['requests_per_s']:>10.0f} {row['texts_per_s']:>9.0f} {row['p50_ms']:>8.2f} "
          f"{row['p99_ms']:>8.2f} {errors:>8} {rss:>8}", file=file)


def print_table(rows):
    print(f"{'server':<6} {'clients':>7} {'requests':>8} {'requests/s':>10} {'texts/s':>9} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'not 200':>8} {'RSS MB':>8}")
    for row in rows:
        print_row(row)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    twin = sub.add_parser("twin-server", help="serve the PyTorch twin alone")
    twin.add_argument("--model", default=os.path.join(ROOT, "assets", "default"))
    twin.add_argument("--port", type=int, default=8081)
    twin.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=os.path.join(ROOT, "assets", "default"))
    parser.add_argument("--bin", default=os.environ.get(
        "BIN", os.path.join(ROOT, "target", "release", "lstm-sentiment")))
    parser.add_argument("--servers", default="ours,torch")
    parser.add_argument("--clients", default="1,8,64,256")
    parser.add_argument("--requests", type=int, default=5000, help="per level")
    parser.add_argument("--texts-per-request", type=int, default=1)
    parser.add_argument("--serve-args", default="",
                        help="more flags for `serve`, e.g. \"--max-concurrent-requests 32\"")
    parser.add_argument("--threads", type=int, default=2, help="model threads of each server")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="cap per level")
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)
    if args.command == "twin-server":
        return run_twin_server(args)
    if "ours" in args.servers.split(",") and not os.path.exists(args.bin):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
