"""A filter partition's shape: nlist, codes, build time, tuned nprobe, recall and search cost.

On the synthetic CLIP-like corpus (`_common`), no store: builds `FilterPartition`s (the store's
own code, `mixsearch/store/filter_partitions.py`) over the ``modality=image`` documents (40 %,
away from the text queries across the modality gap) for each nlist rule (``--nlist-per-sqrt``:
nlist = f·√count) and code type, and prints per partition: build seconds (gather, k-means,
lists, nprobe tuning; FAISS threads as given), bytes, the nprobe its tuning chose, recall@10 of
the text queries against exact search over the image documents (8-bit codes: candidates
re-scored exactly, as `rank` does) and the batch-1 p50 of its search on one thread.

    .venv/bin/python benchmarks/filter_partition.py --n 100000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _common as C  # noqa: E402

K = 10


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--nlist-per-sqrt", default="1,2,4", help="comma list of f in nlist = f·√count")
    p.add_argument("--threads", type=int, default=None, help="FAISS threads for the build")
    p.add_argument("--json", dest="json_out", default=None)
    return p.parse_args(argv)


def measure(source: Any, queries: np.ndarray, truth: np.ndarray, lossy: bool) -> dict[str, Any]:
    from mixsearch.rank import exact_top_k
    from mixsearch.store.filter_partitions import FilterPartition

    t0 = time.perf_counter()
    part = FilterPartition(source, lossy)
    build_s = time.perf_counter() - t0
    ids, vectors = source.gather(source.resolved.ids)

    def search(q: np.ndarray) -> np.ndarray:
        found = part.search(q, part.candidates(K))[1]
        if not lossy:
            return found
        rows = np.searchsorted(ids, found)  # re-scored exactly, as rank.rescore_exact does
        return np.stack(
            [
                exact_top_k(q[i : i + 1], vectors[r], f, K)[1][0]
                for i, (r, f) in enumerate(zip(rows, found, strict=True))
            ]
        )

    found = search(queries)
    threads = C.set_faiss_threads(1)
    seconds = []
    for q in queries:
        t1 = time.perf_counter()
        search(q[None])
        seconds.append(time.perf_counter() - t1)
    C.set_faiss_threads(threads)
    return {
        **part.describe(),
        "build_s": round(build_s, 2),
        "recall": C.recall_at_k(found, truth),
        "p50_ms": C.percentile_ms(seconds, 50),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from mixsearch.store import filter_partitions as fp
    from mixsearch.store.filters import ResolvedFilter

    C.set_faiss_threads(args.threads)
    geometry = C.make_geometry(args.dim, 300, 0)
    vectors, modality = C.make_documents(geometry, args.n, 0)
    queries = C.make_queries(geometry, vectors, modality, args.queries, 1)
    images = np.flatnonzero(modality == C.IMAGE)
    truth = images[np.argsort(-(queries @ vectors[images].T), axis=1)[:, :K]]
    resolved = ResolvedFilter(modality == C.IMAGE)

    def gather(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ids, vectors[ids]

    source = fp.PartitionSource(resolved, args.n, args.dim, gather)
    rows = []
    for factor in (float(f) for f in args.nlist_per_sqrt.split(",")):
        fp.NLIST_PER_SQRT = factor
        for lossy in (False, True):
            C.log(f"nlist = {factor:g}·√count, {'8-bit' if lossy else 'float32'} codes ...")
            rows.append({"nlist_per_sqrt": factor, **measure(source, queries, truth, lossy)})
    return {
        "benchmark": "filter_partition",
        "n": args.n,
        "dim": args.dim,
        "machine": C.machine_info(),
        "partitions": rows,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = run(args)
    keys = [
        "nlist_per_sqrt",
        "codes",
        "documents",
        "nlist",
        "nprobe",
        "bytes",
        "build_s",
        "recall",
        "p50_ms",
    ]
    print(C.fmt_table([[r[k] for k in keys] for r in result["partitions"]], keys))
    if args.json_out:
        C.write_json(args.json_out, result)


if __name__ == "__main__":
    main()
