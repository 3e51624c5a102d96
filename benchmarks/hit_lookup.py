"""What resolving a query's hits costs: the in-memory hit table against the SQLite lookup.

Builds a store of ``--n`` documents with COCO-like fields (doc ids, caption texts on text and
image+text documents, image paths on image documents, small metadata; tiny vectors: only the
document table matters here), then times, interleaved call by call on the same random sets of
``--k`` FAISS ids:

* ``sqlite``: one ``SELECT … WHERE faiss_id IN (?, …)`` (`store.db.hit_rows`, the lookup before
  the table, and still the one used until the table is loaded), then the `Hit`s;
* ``table``: `Store.hits` with the table loaded (its freshness check included), `Hit`s made
  straight from the table (their text and metadata decoded only when read).

It also prints the table's size per document and its load time (one scan of the table).

    .venv/bin/python benchmarks/hit_lookup.py --n 100000
    .venv/bin/python benchmarks/hit_lookup.py --n 1000000 --calls 2000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mixsearch.documents import DocRecord, Modality  # noqa: E402
from mixsearch.store import Store, db  # noqa: E402
from mixsearch.store.hit_table import hits_of_rows  # noqa: E402

DIM = 4
COMMIT_ROWS = 200_000
WORDS = [
    "a",
    "photo",
    "of",
    "the",
    "cat",
    "dog",
    "man",
    "woman",
    "red",
    "blue",
    "sitting",
    "on",
    "table",
    "street",
    "with",
    "near",
    "small",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Hit lookup: in-memory table vs SQLite.")
    p.add_argument("--n", type=int, default=100_000, help="documents (default 100000)")
    p.add_argument("--k", type=int, default=10, help="ids per lookup (default 10)")
    p.add_argument("--calls", type=int, default=5000, help="timed lookups of each kind")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p.parse_args(argv)


def record(i: int) -> DocRecord:
    modality = Modality(i % 3)
    caption = " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(10 + i % 8))
    return DocRecord(
        doc_id=f"coco-{i:07d}",
        modality=modality,
        text=None if modality is Modality.IMAGE else caption,
        image_path=None if modality is Modality.TEXT else f"images/train2017/{i:012d}.jpg",
        metadata={"split": "train", "year": 2017} if i % 2 else {},
        content_hash=f"h{i}",
    )


def build(path: Path, n: int) -> Store:
    store = Store.create(path, dim=DIM, index_spec="Flat", checkpoint_rows=n)
    rng = np.random.default_rng(0)
    for start in range(0, n, COMMIT_ROWS):
        stop = min(start + COMMIT_ROWS, n)
        vectors = rng.normal(size=(stop - start, DIM)).astype(np.float32) + 0.1
        store.add([record(i) for i in range(start, stop)], vectors)
    return store


def median_us(seconds: list[float]) -> float:
    return round(float(np.median(seconds)) * 1e6, 1)


def measure(store: Store, n: int, k: int, calls: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    id_rows = [rng.integers(0, n, k).reshape(1, k) for _ in range(calls)]
    scores = np.zeros((1, k), np.float32)
    store.warm()
    table = store.hit_table
    assert table is not None
    conn = store._commits.conn  # the benchmark times the raw SQLite lookup on the same connection
    sqlite_s: list[float] = []
    table_s: list[float] = []
    for i, ids in enumerate(id_rows):
        pair = [(True, sqlite_s), (False, table_s)]
        for from_sqlite, times in pair if i % 2 == 0 else pair[::-1]:
            t0 = time.perf_counter()
            if from_sqlite:
                hits_of_rows(
                    scores[0].tolist(), ids[0].tolist(), db.hit_rows(conn, ids[0].tolist())
                )
            else:
                store.hits(scores, ids)
            times.append(time.perf_counter() - t0)
    return {
        "documents": len(table),
        "sqlite_lookup_us": median_us(sqlite_s),
        "table_lookup_us": median_us(table_s),
        "table_bytes_per_document": round(table.nbytes / len(table), 1),
        "table_mb": round(table.nbytes / 1e6, 1),
        "table_load_s": round(table.load_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="hit_lookup_"))
    try:
        t0 = time.perf_counter()
        with build(workdir / "store", args.n) as store:
            print(f"built {args.n} documents in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            result = measure(store, args.n, args.k, args.calls)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
