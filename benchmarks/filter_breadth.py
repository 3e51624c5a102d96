"""How much search breadth a filter needs: recall@10 vs efSearch / nprobe, unfiltered and filtered.

On the synthetic CLIP-like corpus (`_common`), raw FAISS only (no store): for each HNSW32 graph
(one per efConstruction) and, with ``--ivf``, for IVF<nlist>,Flat, walk a ladder of efSearch /
nprobe values with and without FAISS ID selectors (bitmaps) for these filters, and print recall
against exact filtered search and the batch-1 p50 on one thread:

* ``image40`` — ``modality=image`` (40 % of documents, correlated with the geometry: image
  documents sit away from the text queries across the modality gap);
* ``rand5`` / ``img5`` — 5 % random, and 5 % of the image documents;
* ``rand0.1`` — 0.1 % random.

This is what the planner's widening rule and the HNSW efConstruction default were chosen from
(RESULTS.md). A ladder stops once recall ≥ 0.975.

    .venv/bin/python benchmarks/filter_breadth.py --n 100000 --ef-construction 40,128,200 --ivf
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

K = 10
EF_LADDER = (10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 160, 256, 512, 1024)
NPROBE_LADDER = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128)
STOP_AT = 0.975


def filters(modality: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(modality)
    return {
        "all": np.ones(n, bool),
        "image40": modality == C.IMAGE,
        "rand5": rng.random(n) < 0.05,
        "img5": (modality == C.IMAGE) & (rng.random(n) < 0.125),
        "rand0.1": rng.random(n) < 0.001,
    }


def exact(queries: np.ndarray, vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ids = np.flatnonzero(mask)
    return ids[np.argsort(-(queries @ vectors[ids].T), axis=1)[:, :K]]


def ladder(
    name: str,
    values: tuple[int, ...],
    search: Callable[[np.ndarray, int], np.ndarray],
    queries: np.ndarray,
    truth: np.ndarray,
) -> None:
    for value in values:
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            found.append(search(q[None], value))
            times.append(time.perf_counter() - t0)
        recall = C.recall_at_k(np.array(found), truth)
        print(f"  {name:8s} {value:5d}  recall {recall:.3f}  p50 {np.median(times) * 1e3:.3f} ms")
        if recall >= STOP_AT:
            return


def searcher(
    index: object, hnsw: bool, mask: np.ndarray | None
) -> Callable[[np.ndarray, int], np.ndarray]:
    """search(q, efSearch or nprobe) → ids, through a bitmap selector when ``mask`` is given."""
    import faiss

    bitmap = None if mask is None else np.packbits(mask, bitorder="little")
    sel = None if mask is None else faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))

    def search(q: np.ndarray, value: int) -> np.ndarray:
        sp = faiss.SearchParametersHNSW() if hnsw else faiss.SearchParametersIVF()
        if hnsw:
            sp.efSearch = value
        else:
            sp.nprobe = value
        if sel is not None:
            sp.sel = sel
        _ = bitmap  # the selector points into it: keep it alive as long as the closure
        return index.search(q, K, params=sp)[1][0]  # type: ignore[attr-defined]

    return search


def main(argv: list[str] | None = None) -> int:
    import faiss

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--ef-construction", default="40,128,200")
    p.add_argument("--ivf", action="store_true", help="also IVF<nlist>,Flat (nlist ~ 4 sqrt n)")
    p.add_argument("--build-threads", type=int, default=2)
    args = p.parse_args(argv)
    geometry = C.make_geometry(args.dim, 300, 0)
    vectors, modality = C.make_documents(geometry, args.n, 0)
    queries = C.make_queries(geometry, vectors, modality, args.queries, 1)
    masks = filters(modality, 5)
    truths = {name: exact(queries, vectors, mask) for name, mask in masks.items()}
    print(f"n={args.n} dim={args.dim} queries={args.queries}; {C.machine_info()}")
    indexes = [f"HNSW32,efC{e}" for e in args.ef_construction.split(",") if e]
    if args.ivf:
        indexes.append(f"IVF{2 ** round(np.log2(4 * np.sqrt(args.n)))},Flat")
    for spec in indexes:
        faiss.omp_set_num_threads(args.build_threads)
        factory = spec.split(",efC")[0]
        index = faiss.index_factory(args.dim, factory, faiss.METRIC_INNER_PRODUCT)
        if ",efC" in spec:
            faiss.downcast_index(index).hnsw.efConstruction = int(spec.split(",efC")[1])
        t0 = time.perf_counter()
        index.train(vectors)
        index.add(vectors)
        print(f"{spec}: build {time.perf_counter() - t0:.1f} s", flush=True)
        faiss.omp_set_num_threads(1)
        hnsw = factory.startswith("HNSW")
        for name, mask in masks.items():
            search = searcher(index, hnsw, None if name == "all" else mask)
            ladder(name, EF_LADDER if hnsw else NPROBE_LADDER, search, queries, truths[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
