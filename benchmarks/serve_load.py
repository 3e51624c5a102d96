"""Load test of `mixsearch serve`: warm latency, then concurrent clients while another process
indexes into the same store. Loopback only; bounded in count and time.

    python benchmarks/serve_load.py --store /tmp/serve-10k [--clients 8 --queries 250 --docs 500]

1. The store (built once, reused): the sample corpus (real photos and notes, offline default
   encoder) plus ``--synthetic`` text documents added as vectors (unit vectors near the encoded
   sample texts) to reach about 10k documents. Queries always go through the real encoder.
2. `mixsearch serve STORE` is started as a user would (a subprocess, 127.0.0.1, a free port).
3. Warm latency: ``--warm`` sequential GET /api/search text queries from one client: p50/p99 end
   to end (HTTP included).
4. Load: ``--clients`` threads × ``--queries`` requests while a writer process indexes ``--docs``
   new text documents in commits of ``--batch`` (real encoder, `Engine.add`). Every fourth request
   of a client asks for one commit's documents (``where`` on its ``load_batch``) and checks it sees
   all of them or none: a reader that saw part of a commit counts as a torn read.
5. Afterwards every concurrently indexed document must be found by searching its own text.

Goal (issue 11): warm text query p50 <= 30 ms and p99 <= 100 ms at 10k documents; 0 errors and
0 torn reads under load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

QUERIES = [
    "a cat", "a cup of coffee", "a rocket launch", "an astronaut", "galaxies in deep space",
    "a man riding a horse", "an old clock", "coins on a table", "the moon", "a camera",
    "a dog on the beach", "espresso", "a watchmaker", "space shuttle", "telescope images",
]  # fmt: skip
ANIMALS = ["otter", "heron", "lynx", "walrus", "ibis", "tapir", "okapi", "gecko", "puffin", "yak"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--store", type=Path, required=True, help="built here if missing, else reused")
    p.add_argument("--synthetic", type=int, default=10_000, help="vector documents added (10000)")
    p.add_argument("--warm", type=int, default=300, help="sequential warm queries (300)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--queries", type=int, default=250, help="requests per client (250)")
    p.add_argument("--docs", type=int, default=500, help="documents the writer indexes (500)")
    p.add_argument("--batch", type=int, default=10, help="documents per writer commit (10)")
    p.add_argument(
        "--server-threads", type=int, default=None, help="`serve --threads N` (default: its own)"
    )
    p.add_argument("--deadline", type=float, default=900.0, help="seconds for the load phase")
    p.add_argument("--out", type=Path, default=C.REPO_ROOT / "benchmarks/out/serve_load.json")
    p.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)  # the writer process
    return p.parse_args(argv)


# ---------------------------------------------------------------------- the store
def build_store(path: Path, synthetic: int) -> None:
    import tempfile

    from mixsearch.corpus import read_corpus
    from mixsearch.documents import Modality
    from mixsearch.engine import Engine

    sys.path.insert(0, str(C.REPO_ROOT / "scripts"))
    from sample_corpus import write_sample_corpus

    with tempfile.TemporaryDirectory() as tmp:
        write_sample_corpus(Path(tmp) / "corpus")
        with Engine.create(path, index="Flat") as engine:
            engine.add(read_corpus(Path(tmp) / "corpus").documents, progress=True)
            seeds = engine.encoder.encode_texts(QUERIES)
            rng = np.random.default_rng(0)
            base = seeds[rng.integers(0, len(seeds), synthetic)]
            vectors = C.unit_rows(base + 0.9 * C.unit_rows(rng.standard_normal(base.shape)))
            ids = [f"synthetic-{i:05d}" for i in range(synthetic)]
            texts = [f"synthetic document {i}" for i in range(synthetic)]
            modality = np.full(synthetic, int(Modality.TEXT))
            engine.add_vectors(ids, vectors, modality, texts=texts, progress=True)


def writer_documents(count: int, batch: int) -> list[Any]:
    from mixsearch.documents import Document

    return [
        Document(
            f"load-{i:04d}",
            text=f"Field note {i}: a {ANIMALS[i % len(ANIMALS)]} seen at site {i * 7919 % 1000}.",
            metadata={"load_batch": i // batch},
        )
        for i in range(count)
    ]


def run_writer(args: argparse.Namespace) -> int:
    """The other process: index the documents in commits of ``batch``."""
    from mixsearch.engine import Engine

    docs = writer_documents(args.docs, args.batch)
    with Engine.open(args.store) as engine:
        for start in range(0, len(docs), args.batch):
            engine.add(docs[start : start + args.batch], cache=False)
    return 0


# ---------------------------------------------------------------------- HTTP
def get(url: str) -> tuple[int, Any, float]:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = json.loads(response.read())
            status = response.status
    except urllib.error.HTTPError as err:
        status, body = err.code, None
    except OSError as err:
        status, body = 0, str(err)
    return status, body, time.perf_counter() - t0


def start_server(store: Path, threads: int | None = None) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    cmd = [sys.executable, "-m", "mixsearch", "serve", str(store), "--port", str(port)]
    cmd += ["--threads", str(threads)] if threads is not None else []
    proc = subprocess.Popen([*cmd, "--log-level", "warning"])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if get(url + "/healthz")[0] == 200:
            return proc, url
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not come up")


def wait_for_image_model(url: str, timeout: float = 600.0) -> None:
    """The server loads the image model in the background after it comes up; timing text
    queries while that runs would measure the loading, not the queries."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body, _ = get(url + "/healthz")
        if status == 200 and body.get("image_model") != "loading":
            return
        time.sleep(0.5)
    raise SystemExit("the server's image model did not finish loading")


def warm_latency(url: str, count: int, server_pid: int) -> dict[str, Any]:
    wait_for_image_model(url)
    for q in QUERIES:  # warm caches: each query text once
        get(f"{url}/api/search?{urlencode({'q': q, 'k': 10})}")
    seconds, errors = [], 0
    load_before = os.getloadavg()[0]
    cpu_before = process_cpu_seconds(server_pid)
    for i in range(count):
        q = f"{QUERIES[i % len(QUERIES)]} {i}"  # distinct texts: every query is encoded
        status, _, took = get(f"{url}/api/search?{urlencode({'q': q, 'k': 10})}")
        errors += status != 200
        seconds.append(took)
    # CPU time the server spent per query: what the wall time would be on an idle core, and a
    # figure that other processes on a busy machine barely change.
    cpu_ms = 1000 * (process_cpu_seconds(server_pid) - cpu_before) / count
    return {
        "queries": count,
        "errors": errors,
        **summary(seconds),
        "server_cpu_ms_per_query": round(cpu_ms, 2),
        "load_average_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(C.percentile_ms(seconds, 50), 2),
        "p99_ms": round(C.percentile_ms(seconds, 99), 2),
        "mean_ms": round(1000 * float(np.mean(seconds)), 2) if seconds else float("nan"),
    }


class Client(threading.Thread):
    def __init__(self, url: str, seed: int, count: int, batches: int, batch: int, stop: float):
        super().__init__(daemon=True)
        self.url, self.count, self.batches, self.batch, self.stop = url, count, batches, batch, stop
        self.rng = random.Random(seed)
        self.seconds: list[float] = []
        self.errors: list[str] = []
        self.torn: list[str] = []
        self.seen_full = 0

    def run(self) -> None:
        for i in range(self.count):
            if time.monotonic() > self.stop:
                self.errors.append("deadline reached")
                return
            if i % 4 == 3:
                self.check_commit()
            else:
                q = f"{self.rng.choice(QUERIES)} {self.rng.randint(0, 10**6)}"
                self.record(get(f"{self.url}/api/search?{urlencode({'q': q, 'k': 10})}"))

    def record(self, answer: tuple[int, Any, float]) -> Any:
        status, body, took = answer
        self.seconds.append(took)
        if status != 200:
            self.errors.append(f"HTTP {status}: {str(body)[:120]}")
            return None
        return body

    def check_commit(self) -> None:
        b = self.rng.randrange(self.batches)
        params = {"q": "field note", "k": 50, "where": json.dumps({"load_batch": b})}
        body = self.record(get(f"{self.url}/api/search?{urlencode(params)}"))
        if body is None:
            return
        found = len(body["results"][0]["hits"])
        if found not in (0, self.batch):
            self.torn.append(f"batch {b}: {found} of {self.batch} documents visible")
        self.seen_full += found == self.batch


def load_phase(args: argparse.Namespace, url: str) -> dict[str, Any]:
    batches = -(-args.docs // args.batch)
    stop = time.monotonic() + args.deadline
    writer = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--writer",
            "--store",
            str(args.store),
            "--docs",
            str(args.docs),
            "--batch",
            str(args.batch),
        ]  # fmt: skip
    )
    clients = [
        Client(url, seed, args.queries, batches, args.batch, stop) for seed in range(args.clients)
    ]
    t0 = time.perf_counter()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    wall = time.perf_counter() - t0
    writer_status = writer.wait(timeout=max(1.0, stop - time.monotonic() + 60))
    seconds = [s for c in clients for s in c.seconds]
    errors = [e for c in clients for e in c.errors]
    torn = [t for c in clients for t in c.torn]
    return {
        "clients": args.clients,
        "requests": len(seconds),
        "requests_per_s": round(len(seconds) / wall, 1),
        "errors": len(errors),
        "error_examples": errors[:5],
        "torn_reads": len(torn),
        "torn_examples": torn[:5],
        "complete_commit_checks": sum(c.seen_full for c in clients),
        "writer_exit": writer_status,
        **summary(seconds),
    }


def all_indexed_searchable(url: str, docs: list[Any]) -> dict[str, Any]:
    missing = []
    for doc in docs:
        status, body, _ = get(f"{url}/api/search?{urlencode({'q': doc.text, 'k': 3})}")
        ids = [h["id"] for h in body["results"][0]["hits"]] if status == 200 else []
        if doc.id not in ids:
            missing.append(doc.id)
    return {"checked": len(docs), "not_found_by_own_text": len(missing), "examples": missing[:5]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.writer:
        return run_writer(args)
    if not (args.store / "manifest.json").exists():
        C.log(f"building {args.store} ({args.synthetic} synthetic + sample corpus)")
        build_store(args.store, args.synthetic)
    else:
        remove_previous_load_documents(args)
    proc, url = start_server(args.store, args.server_threads)
    try:
        status, info, _ = get(url + "/api/info")
        C.log(f"serving {info['documents']} documents at {url}")
        warm = warm_latency(url, args.warm, proc.pid)
        C.log(f"warm: {warm}")
        load = load_phase(args, url)
        C.log(f"load: {load}")
        after = all_indexed_searchable(url, writer_documents(args.docs, args.batch))
        C.log(f"after: {after}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    result = {
        "benchmark": "serve_load",
        "machine": C.machine_info(),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "documents_before": info["documents"],
        "warm_text_query": warm,
        "under_load": load,
        "indexed_during_load": after,
        "goal": {"warm_p50_ms": 30, "warm_p99_ms": 100},
        "command": "python benchmarks/serve_load.py " + " ".join(argv or sys.argv[1:]),
    }
    C.write_json(args.out, result)
    print(json.dumps(result, indent=2))
    ok = load["errors"] == 0 and load["torn_reads"] == 0 and after["not_found_by_own_text"] == 0
    return 0 if ok else 1


def remove_previous_load_documents(args: argparse.Namespace) -> None:
    """A reused store: drop the documents an earlier run's writer added, so this run adds them."""
    from mixsearch.engine import Engine

    with Engine.open(args.store) as engine:
        engine.remove([d.id for d in writer_documents(args.docs, args.batch)])


if __name__ == "__main__":
    sys.exit(main())
