"""One-pass streaming internals: per-chunk validation and accumulation, the CV subsample, and
reading memory-mapped .npy files chunk by chunk without the pages piling up in RSS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mixsearch.align.stats import PairStats
from mixsearch.align.validate import MAX_LISTED_ROWS, as_matrix, check_pair_rows, raise_bad_rows
from mixsearch.errors import MixsearchError


class ChunkAccumulator:
    """Validates, normalises and accumulates chunks; keeps a bottom-k random sample for CV."""

    def __init__(self, keep_sample: int, seed: int, normalize: bool, grams: bool) -> None:
        self.stats: PairStats | None = None
        self.normalize = normalize
        self.grams = grams
        self.offset = 0
        self.bad: dict[str, list[np.ndarray]] = {}
        self.bad_counts: dict[str, int] = {}
        self.sampler = BottomKSampler(keep_sample, seed)

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        x = as_matrix(x, "source chunk")
        y = as_matrix(y, "target chunk")
        check_pair_rows(x, y)
        self._check_dims(x, y)
        x64 = np.array(x, dtype=np.float64)  # the one copy of this chunk
        y64 = np.array(y, dtype=np.float64)
        # one pass finds bad rows and the norms: a NaN/inf anywhere makes the norm non-finite
        x_norms, y_norms = row_norms(x64), row_norms(y64)
        bad = self._record_bad(x_norms, "source") | self._record_bad(y_norms, "target")
        if not bad and not self.bad:  # after a bad row the fit will fail: only keep scanning
            if self.normalize:
                x64 /= x_norms[:, None]
                y64 /= y_norms[:, None]
            self.stats.add(x64, y64)  # type: ignore[union-attr]
            self.sampler.add(x64, y64, self.offset)
        self.offset += len(x)

    def _check_dims(self, x: np.ndarray, y: np.ndarray) -> None:
        if self.stats is None:
            self.stats = PairStats.empty(x.shape[1], y.shape[1], grams=self.grams)
        ds, dt = self.stats.xty.shape
        if x.shape[1] != ds or y.shape[1] != dt:
            raise MixsearchError(
                f"chunk at row {self.offset} has dims ({x.shape[1]}, {y.shape[1]}), "
                f"earlier chunks ({ds}, {dt})"
            )

    def _record_bad(self, norms: np.ndarray, name: str) -> bool:
        nonfinite = np.flatnonzero(~np.isfinite(norms))
        zero = np.flatnonzero(norms == 0)
        for kind, rows in (("nonfinite", nonfinite), ("zero", zero)):
            if len(rows):
                key = f"{name}:{kind}"
                self.bad.setdefault(key, []).append(rows[:MAX_LISTED_ROWS] + self.offset)
                self.bad_counts[key] = self.bad_counts.get(key, 0) + len(rows)
        return bool(len(nonfinite) or len(zero))

    def finish(self) -> PairStats:
        if self.stats is None or self.offset == 0:
            raise MixsearchError("no pairs to fit: the input is empty")
        for side in ("source", "target"):
            nf, zero = f"{side}:nonfinite", f"{side}:zero"
            raise_bad_rows(
                side,
                np.concatenate(self.bad.get(nf, [np.empty(0, np.int64)])),
                self.bad_counts.get(nf, 0),
                np.concatenate(self.bad.get(zero, [np.empty(0, np.int64)])),
                self.bad_counts.get(zero, 0),
            )
        return self.stats

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        return self.sampler.rows()


class BottomKSampler:
    """A uniform sample of k pairs without replacement, in one pass and fixed memory.

    Every row draws a uniform key; the sample is the k rows with the smallest keys. Keys are
    drawn row by row from one seeded stream, so the sample does not depend on how the rows were
    chunked. Buffers are preallocated; a chunk only touches the slots its winners evict.
    """

    def __init__(self, k: int, seed: int) -> None:
        self.k = k
        self.rng = np.random.default_rng([seed, 1])
        self.filled = 0
        self.keys = np.empty(0)
        self.index = np.empty(0, dtype=np.int64)
        self.sx: np.ndarray | None = None
        self.sy: np.ndarray | None = None

    def add(self, x: np.ndarray, y: np.ndarray, offset: int) -> None:
        if self.k <= 0:
            return
        if self.sx is None or self.sy is None:
            self.sx, self.sy = np.empty((self.k, x.shape[1])), np.empty((self.k, y.shape[1]))
            self.keys, self.index = np.full(self.k, np.inf), np.full(self.k, -1, dtype=np.int64)
        keys = self.rng.random(len(x))
        # a new row wins a slot when its key beats the largest key kept (inf while not full)
        cand = np.flatnonzero(keys < self.keys.max())
        if len(cand) == 0:
            return
        all_keys = np.concatenate([self.keys, keys[cand]])
        winners = np.argpartition(all_keys, self.k - 1)[: self.k]
        evicted = np.setdiff1d(np.arange(self.k), winners[winners < self.k])
        incoming = cand[winners[winners >= self.k] - self.k]
        self.sx[evicted], self.sy[evicted] = x[incoming], y[incoming]
        self.keys[evicted], self.index[evicted] = keys[incoming], offset + incoming

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The sampled pairs in their original row order."""
        assert self.sx is not None and self.sy is not None
        kept = np.flatnonzero(self.index >= 0)
        order = kept[np.argsort(self.index[kept])]
        return self.sx[order], self.sy[order]


def row_norms(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return np.sqrt(np.einsum("ij,ij->i", x, x))


def file_chunks(
    x: np.ndarray, y: np.ndarray, chunk_rows: int, progress: bool
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    from tqdm import tqdm

    if chunk_rows < 1:
        raise MixsearchError(f"chunk_rows must be positive, got {chunk_rows}")
    n = x.shape[0]
    starts = range(0, n, chunk_rows)
    # disable=None: tqdm draws only on a terminal, so logs and captured stderr stay clean
    for start in tqdm(starts, desc="fitting", unit="chunk", disable=None if progress else True):
        stop = min(start + chunk_rows, n)
        yield x[start:stop], y[start:stop]  # views: the accumulator makes the only copy
        release_pages(x)
        release_pages(y)


def release_pages(arr: np.ndarray) -> None:
    """Drop already-read pages of a memory map from this process's resident set.

    The pages stay in the OS page cache; without this, every page read counts towards the
    process's RSS and a 2 GB file would look like a 2 GB process.
    """
    import mmap

    owner: Any = arr
    while owner is not None and getattr(owner, "_mmap", None) is None:
        owner = getattr(owner, "base", None)  # np.asarray(memmap) is a view; the map is a base
    base = getattr(owner, "_mmap", None)
    if base is not None and hasattr(base, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        base.madvise(mmap.MADV_DONTNEED)
