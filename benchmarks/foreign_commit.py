"""What a long-lived reader pays to pick up another writer's commit: a Flat store of ``--n``
documents (synthetic CLIP-like vectors, dim 512, added in commits of ``--commit-every``), then
``--rounds`` times: a second engine of the same store (another SQLite connection and vector map,
as another process has) adds ``--batch`` documents and closes, and the reader picks that commit up.

    python benchmarks/foreign_commit.py --n 100000 --batch 1000 --rounds 5

Two readers, timed separately (the writer is not timed):

* ``server``: `mixsearch.serve.live.LiveStore`, the server's reader — its next request's
  `snapshot()` sees the new generation and reopens the engine (hit table loaded, as it serves);
* ``snapshot``: a plain `Store` kept open, whose `snapshot()` (what `verify` and a writer's lock
  use) loads the new generation in place.

``hash_s`` is the time the reader spent hashing vector-file segments in that pickup (sha256 of the
committed rows; `mixsearch.store.vector_file.VectorMap._digest`, counted by wrapping it), so the
share of the pickup that is re-verification shows directly.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _common import fmt_table, log, machine_info, make_documents, make_geometry, write_json


@contextlib.contextmanager
def hashing_clock() -> Iterator[list[float]]:
    """Seconds spent in `VectorMap._digest` while the block runs (one entry per call)."""
    from mixsearch.store.vector_file import VectorMap

    spent: list[float] = []
    original = VectorMap._digest

    def timed(self: VectorMap, first: int, n: int) -> str:
        t0 = time.perf_counter()
        try:
            return original(self, first, n)
        finally:
            spent.append(time.perf_counter() - t0)

    VectorMap._digest = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        VectorMap._digest = original  # type: ignore[method-assign]


def build(path: Path, n: int, commit_every: int) -> tuple[np.ndarray, np.ndarray]:
    from mixsearch.engine import Engine

    vectors, modality = make_documents(make_geometry(), n + 100_000)
    log(f"building a Flat store of {n} documents")
    with Engine.create(path, encoder=None, dim=vectors.shape[1], index="Flat", alignment=None) as e:
        ids = [f"d{i}" for i in range(n)]
        e.add_vectors(ids, vectors[:n], modality[:n], commit_every=commit_every)
    return vectors, modality


def foreign_commit(path: Path, vectors: np.ndarray, modality: np.ndarray, first: int, n: int):
    from mixsearch.engine import Engine

    with Engine.open(path) as writer:
        ids = [f"d{i}" for i in range(first, first + n)]
        writer.add_vectors(ids, vectors[first : first + n], modality[first : first + n])


def timed_pickup(pick_up: Callable[[], Any]) -> tuple[float, float]:
    with hashing_clock() as hashing:
        t0 = time.perf_counter()
        pick_up()
        total = time.perf_counter() - t0
    return total, sum(hashing)


def measure(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from mixsearch.serve.live import LiveStore
    from mixsearch.store import Store

    path = work / "flat"
    shutil.rmtree(path, ignore_errors=True)
    vectors, modality = build(path, args.n, args.commit_every)
    server = LiveStore(path, device="cpu", readonly=True)
    plain = Store.open(path, readonly=True)
    rows: list[dict[str, Any]] = []
    first = args.n
    try:
        for round_ in range(args.rounds):
            foreign_commit(path, vectors, modality, first, args.batch)
            first += args.batch

            def serve_request() -> None:
                with server.snapshot():
                    pass

            def take_snapshot() -> None:
                with plain.snapshot():
                    pass

            for reader, pick_up in (("server", serve_request), ("snapshot", take_snapshot)):
                total, hashing = timed_pickup(pick_up)
                rows.append(
                    {
                        "reader": reader,
                        "round": round_,
                        "documents": first,
                        "pickup_s": total,
                        "hash_s": hashing,
                    }
                )
                log(f"round {round_} {reader}: {total:.3f} s (hashing {hashing:.3f} s)")
    finally:
        plain.close()
        server.close()
    return rows


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median per reader; the first round is kept (no warm-up: each pickup is a new commit)."""
    out = []
    for reader in dict.fromkeys(r["reader"] for r in rows):
        mine = [r for r in rows if r["reader"] == reader]
        out.append(
            {
                "reader": reader,
                "pickup_s_median": float(np.median([r["pickup_s"] for r in mine])),
                "hash_s_median": float(np.median([r["hash_s"] for r in mine])),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commit-every", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mixsearch-foreign-"))
    rows = measure(args, work)
    medians = summary(rows)
    header = ["reader", "pickup s (median)", "of it hashing s"]
    print(
        fmt_table(
            [[m["reader"], m["pickup_s_median"], m["hash_s_median"]] for m in medians], header
        )
    )
    if args.json:
        write_json(
            args.json,
            {"machine": machine_info(), "args": vars(args), "rows": rows, "medians": medians},
        )
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
