"""Filter partitions for graph stores: one filter's documents in an IVF index of their own.

An HNSW graph searched under a filter walks the whole graph and skips the nodes the filter
rejects. A filter anti-correlated with the queries — image documents for a text query across
CLIP's modality gap — leaves the walk's neighbourhood nearly empty of allowed nodes, so the
planner widens efSearch to 4·ef/s: at 100k, ``modality=image`` (s = 0.4) needed efSearch 111
against the unfiltered 11, 3.1× the unfiltered search; at 1M efSearch 1023, 5.2× (RESULTS.md,
issue 14). Seeding the walk near image documents gained little.

A partition is an IVF index over exactly the documents one filter allows in one committed
generation, so no probe is spent on rejected documents and no selector is tested:
``IndexIVFFlat`` (inner product), or 8-bit scalar-quantised codes (`lossy`: the caller
re-scores its candidates from the stored vectors) when a float copy does not fit the budget.
nlist = √count: at 100k (40k image documents, `benchmarks/filter_partition.py`, RESULTS.md)
it built in 1.7 s against 2.9 s for 2·√count and 7.9 s for 4·√count, and searched fastest
(nprobe 1 reaches recall 0.9997 there; bigger lists need fewer probes). Its nprobe is tuned at build on held-out queries (`partition_nprobe`).

Lifetime: one partition per (filter, committed generation) in a `GenerationCache`, built once
the widened graph searches of that filter in the generation have cost as much as the build is
estimated to (the ski-rental bound: at most twice the better choice in hindsight), or on the
filter's first search for a reader that called `Store.warm`; used only while nothing has
committed past its generation. A removed document is never in it: it holds the filter's
documents of its own generation, and any commit, own or another process's, leaves that
generation (after a foreign commit the graph search answers, and hits skip what was removed).

Memory: all partitions of one store together stay within ``budget_bytes`` (PARTITION_MEMORY_BYTES
by default); the least recently used are dropped to make room, and a filter whose 8-bit codes
alone exceed the budget is not partitioned. `FilterPartitions.stats` reports what they hold
(`Engine.info`, the server's ``/api/info``).
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from mixsearch.store.faiss_call import faiss_search
from mixsearch.store.filters import ResolvedFilter
from mixsearch.store.generation_cache import GenerationCache
from mixsearch.store.partition_nprobe import TUNE_QUERIES, ivf_params, tuned_nprobe

PARTITION_MEMORY_BYTES = 512 * 1024**2  # all partitions of one store together
MAX_PARTITIONS = 16
NLIST_PER_SQRT = 1.0
TRAIN_POINTS_PER_LIST = 40  # FAISS warns below 39
KMEANS_ITERATIONS = 10
RESCORED_CANDIDATES = 4  # per hit wanted from 8-bit codes, re-scored exactly (as rank's rescoring)
# First estimate of a build's cost (refined by each build of the filter), per row and dimension:
# 40k × 512 built in 1.5–1.7 s on the benchmark machine (2 threads, `benchmarks/filter_partition.py`),
# and k-means work per row grows with nlist, i.e. with √count.
BUILD_S_PER_ROW_DIM_AT_40K = 1.6 / 40_000 / 512

Gather = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PartitionSource:
    """What a partition is built from: the filter, the store's id range and dimension, and
    ``gather`` (FAISS ids → the ids that are documents now and their stored vectors)."""

    resolved: ResolvedFilter
    id_bound: int
    dim: int
    gather: Gather


def nlist_for(count: int) -> int:
    return max(1, min(round(NLIST_PER_SQRT * math.sqrt(count)), count // TRAIN_POINTS_PER_LIST))


def partition_bytes(count: int, dim: int, lossy: bool) -> int:
    """Memory of a partition of ``count`` vectors: codes, ids and centroids."""
    per_vector = dim * (1 if lossy else 4) + 8
    return count * per_vector + nlist_for(count) * dim * 4


class FilterPartition:
    """An IVF index over one filter's documents of one generation, with its tuned nprobe."""

    __slots__ = ("_params", "build_s", "count", "index", "lossy", "nbytes", "nlist", "nprobe")

    def __init__(self, source: PartitionSource, lossy: bool) -> None:
        t0 = time.perf_counter()
        ids, vectors = source.gather(source.resolved.ids)
        self.count = len(ids)
        self.lossy = lossy
        self.nlist = nlist_for(self.count)
        self.index = _trained_ivf(vectors, self.nlist, lossy)
        _fill_lists(self.index, vectors, ids)
        outside = _outside_vectors(source, TUNE_QUERIES // 2)
        self.nprobe = tuned_nprobe(self.index, vectors, ids, outside, self.candidates(1))
        self._params = ivf_params(self.nprobe)
        self.nbytes = partition_bytes(self.count, source.dim, lossy)
        self.build_s = time.perf_counter() - t0

    def __len__(self) -> int:
        return self.count

    def candidates(self, k: int) -> int:
        """How many candidates to fetch for ``k`` hits: more with 8-bit codes, whose scores the
        caller replaces by exact ones (`rank.rescore_exact`)."""
        return k * RESCORED_CANDIDATES if self.lossy else k

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, FAISS ids) [Q, k] of the filter's documents, -1 padded; approximate
        scores when `lossy`."""
        return faiss_search(self.index, self.index.d, q, k, self._params)

    def describe(self) -> dict[str, Any]:
        return {
            "documents": self.count,
            "codes": "8-bit" if self.lossy else "float32",
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "bytes": self.nbytes,
            "build_s": round(self.build_s, 3),
        }


def _outside_vectors(source: PartitionSource, n: int) -> np.ndarray:
    """Vectors of up to ``n`` random documents the filter leaves out (held-out queries)."""
    rng = np.random.default_rng(1)
    candidates = rng.integers(0, source.id_bound, size=8 * n)
    bits = np.unpackbits(source.resolved.bitmap, bitorder="little")
    outside = np.unique(candidates[bits[candidates] == 0])
    _, vectors = source.gather(outside)  # removed documents drop out
    return vectors[rng.permutation(len(vectors))[:n]]


def _trained_ivf(vectors: np.ndarray, nlist: int, lossy: bool) -> faiss.IndexIVF:
    dim = vectors.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    index: faiss.IndexIVF
    if lossy:
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        index.by_residual = False  # codes of the vectors: score errors ~10× smaller here
    else:
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = KMEANS_ITERATIONS
    rng = np.random.default_rng(0)
    sample = min(len(vectors), TRAIN_POINTS_PER_LIST * nlist)
    index.train(vectors[np.sort(rng.choice(len(vectors), sample, replace=False))])
    return index  # FAISS's Python wrapper keeps the quantizer alive with the index


def _fill_lists(index: faiss.IndexIVF, vectors: np.ndarray, ids: np.ndarray) -> None:
    """Add the rows list by list, each list's arrays sized once. FAISS's own ``add`` appends
    entry by entry and the lists' arrays grow by doubling: up to twice the bytes the memory
    budget counts (`partition_bytes`)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    lists = np.ascontiguousarray(index.quantizer.assign(vectors, 1).ravel(), dtype=np.int64)
    ivf: Any = index  # the faiss stubs know neither encode_vectors nor the lists' resize
    codes = np.empty((len(vectors), ivf.code_size), dtype=np.uint8)
    ivf.encode_vectors(
        len(vectors), faiss.swig_ptr(vectors), faiss.swig_ptr(lists), faiss.swig_ptr(codes)
    )
    order = np.argsort(lists, kind="stable")
    bounds = np.searchsorted(lists[order], np.arange(index.nlist + 1))
    invlists = ivf.invlists
    for lst in range(index.nlist):
        rows = order[bounds[lst] : bounds[lst + 1]]
        if len(rows):
            list_ids = np.ascontiguousarray(ids[rows], dtype=np.int64)
            list_codes = np.ascontiguousarray(codes[rows])
            invlists.resize(lst, len(rows))
            invlists.update_entries(
                lst, 0, len(rows), faiss.swig_ptr(list_ids), faiss.swig_ptr(list_codes)
            )
    index.ntotal = len(ids)


class FilterPartitions:
    """The partitions of one store's loaded generation, within a memory budget."""

    def __init__(self, budget_bytes: int | None = None) -> None:
        self.budget_bytes = PARTITION_MEMORY_BYTES if budget_bytes is None else budget_bytes
        self.at_once = False  # `Store.warm`: build a filter's partition on its first search
        self._generation: int | None = None
        self._caches: OrderedDict[ResolvedFilter, GenerationCache[FilterPartition]] = OrderedDict()

    def usable(
        self, conn: sqlite3.Connection, generation: int, source: PartitionSource
    ) -> FilterPartition | None:
        """The filter's partition when it is valid, built now when it has paid (or
        `at_once`); None otherwise: the graph search answers and reports its time (`paid`)."""
        cache = self._cache(generation, source)
        if cache is None:
            return None
        count = source.resolved.count
        return cache.usable(conn, generation, count, at_once=self.at_once)

    def paid(self, resolved: ResolvedFilter, seconds: float) -> None:
        """What one widened graph search of ``resolved`` cost instead of its partition."""
        cache = self._caches.get(resolved)
        if cache is not None:
            cache.paid(seconds)

    @property
    def nbytes(self) -> int:
        return sum(c.value.nbytes for c in self._caches.values() if c.value is not None)

    def stats(self) -> dict[str, Any]:
        """What the partitions in memory hold, for `Engine.info`."""
        built = [c.value.describe() for c in self._caches.values() if c.value is not None]
        return {"budget_bytes": self.budget_bytes, "bytes": self.nbytes, "partitions": built}

    def clear(self) -> None:
        for cache in self._caches.values():
            cache.clear()
        self._caches.clear()
        self._generation = None

    def _cache(
        self, generation: int, source: PartitionSource
    ) -> GenerationCache[FilterPartition] | None:
        if generation != self._generation:
            self.clear()
            self._generation = generation
        resolved = source.resolved
        cache = self._caches.get(resolved)
        if cache is not None:
            self._caches.move_to_end(resolved)
            return cache
        if partition_bytes(resolved.count, source.dim, lossy=True) > self.budget_bytes:
            return None
        lossy = partition_bytes(resolved.count, source.dim, lossy=False) > self.budget_bytes

        def build(conn: sqlite3.Connection, generation: int) -> FilterPartition:
            self._make_room(resolved, partition_bytes(resolved.count, source.dim, lossy))
            return FilterPartition(source, lossy)

        cache = GenerationCache(build, _estimated_build_s_per_row(resolved.count, source.dim))
        self._caches[resolved] = cache
        if len(self._caches) > MAX_PARTITIONS:
            self._caches.popitem(last=False)[1].clear()
        return cache

    def _make_room(self, keep: ResolvedFilter, needed: int) -> None:
        """Drop the least recently used partitions until ``needed`` more bytes fit."""
        used = self.nbytes
        for resolved, cache in self._caches.items():
            if used + needed <= self.budget_bytes:
                return
            if resolved is not keep and cache.value is not None:
                used -= cache.value.nbytes
                cache.clear()


def _estimated_build_s_per_row(count: int, dim: int) -> float:
    return BUILD_S_PER_ROW_DIM_AT_40K * dim * math.sqrt(max(count, 1) / 40_000)
