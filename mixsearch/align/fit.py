"""Fitting alignments: in memory, from any stream of row chunks, or from memory-mapped .npy files.

All three paths run the same code: rows are validated and (by default) L2-normalised chunk by
chunk — the engine normalises vectors before transforming them, so the fit must see the same
thing — and reduced to `PairStats`; the map is computed from those statistics. For ``auto`` a
bounded uniform random subsample of pairs (bottom-k by random key, independent of chunking) is
kept for k-fold cross-validation of the shrinkage λ; the chosen λ is then applied to the full
statistics. With N ≤ ``cv_sample`` every pair is used, so in-memory and streaming fits agree.

Note on the subsample: the best λ shrinks as N grows, so a λ chosen on 20k pairs and applied
to a million is on the conservative (more centering-like) side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.align.alignment import Alignment
from mixsearch.align.maps import isotropic_scale, padded_identity, ridge_map, shrunk_procrustes
from mixsearch.align.retrieval import normalize_rows, pair_retrieval
from mixsearch.align.stats import PairStats
from mixsearch.align.validate import (
    MAX_LISTED_ROWS,
    as_matrix,
    check_folds,
    check_matrix,
    check_pair_rows,
    load_npy,
    raise_bad_rows,
)
from mixsearch.errors import MixsearchError

METHODS = ("none", "center", "procrustes", "lstsq", "auto")
DEFAULT_LAMBDAS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, math.inf)
DEFAULT_CV_SAMPLE = 20_000
DEFAULT_CV_EVAL = 1_000  # held-out pairs per fold ranked against each other to score a λ
DEFAULT_CHUNK_ROWS = 16_384  # 16k × 512 float64 = 64 MB per side per chunk


def fit_alignment(
    source: np.ndarray,
    target: np.ndarray,
    method: str = "auto",
    *,
    query: np.ndarray | None = None,
    center: bool = True,
    scale: bool = False,
    folds: int = 5,
    lambdas: Iterable[float] | None = None,
    seed: int = 0,
    cv_sample: int = DEFAULT_CV_SAMPLE,
    normalize_inputs: bool = True,
    extra: dict[str, Any] | None = None,
) -> Alignment:
    """Fit a map from ``source`` rows [N, ds] onto their partners ``target`` [N, dt]."""
    x = as_matrix(source, "source")
    y = as_matrix(target, "target")
    check_pair_rows(x, y)
    return fit_alignment_streaming(
        [(x, y)],
        method,
        query=query,
        center=center,
        scale=scale,
        folds=folds,
        lambdas=lambdas,
        seed=seed,
        cv_sample=cv_sample,
        normalize_inputs=normalize_inputs,
        extra=extra,
    )


def fit_alignment_streaming(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    method: str = "auto",
    *,
    query: np.ndarray | None = None,
    center: bool = True,
    scale: bool = False,
    folds: int = 5,
    lambdas: Iterable[float] | None = None,
    seed: int = 0,
    cv_sample: int = DEFAULT_CV_SAMPLE,
    normalize_inputs: bool = True,
    extra: dict[str, Any] | None = None,
) -> Alignment:
    """Fit from chunks ``(source_rows, target_rows)`` in one pass, O(D² + cv_sample·D) memory."""
    check_method(method)
    lambda_grid = _lambda_grid(lambdas)
    acc = _Accumulator(
        keep_sample=cv_sample if method == "auto" else 0,
        seed=seed,
        normalize=normalize_inputs,
        grams=method == "lstsq",
    )
    for x, y in pairs:
        acc.add(x, y)
    stats = acc.finish()
    query_mean = _query_mean(query, stats, normalize_inputs)
    info: dict[str, Any] = {"normalized_inputs": normalize_inputs, **(extra or {})}
    lambda_ = None
    if method == "auto":
        check_folds(stats.n, folds)
        sx, sy = acc.sample()
        lambda_, scores = choose_lambda(
            sx,
            sy,
            query_mean=query_mean,
            center=center,
            folds=folds,
            lambdas=lambda_grid,
            seed=seed,
        )
        info["cv"] = {"folds": folds, "pairs": len(sx), "scores": scores}
    return alignment_from_stats(
        stats,
        method,
        lambda_=lambda_,
        center=center,
        scale=scale,
        query_mean=query_mean,
        extra=info,
    )


def fit_alignment_from_files(
    source_path: str | Path,
    target_path: str | Path,
    method: str = "auto",
    *,
    query_path: str | Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool = False,
    **kwargs: Any,
) -> Alignment:
    """Stream two row-aligned .npy files (memory-mapped) through `fit_alignment_streaming`."""
    x = load_npy(source_path, "source", mmap=True)
    y = load_npy(target_path, "target", mmap=True)
    check_pair_rows(x, y)
    query = load_npy(query_path, "query") if query_path is not None else None
    chunks = _file_chunks(x, y, chunk_rows, progress)
    return fit_alignment_streaming(chunks, method, query=query, **kwargs)


def check_method(method: str) -> str:
    if method not in METHODS:
        raise MixsearchError(
            f"unknown alignment method {method!r}; use one of {', '.join(METHODS)}"
        )
    return method


# -- maps from statistics -----------------------------------------------------------------


def alignment_from_stats(
    stats: PairStats,
    method: str,
    *,
    lambda_: float | None = None,
    center: bool = True,
    scale: bool = False,
    query_mean: np.ndarray | None = None,
    extra: dict[str, Any] | None = None,
) -> Alignment:
    """Build the `Alignment` of ``method`` from accumulated statistics."""
    check_method(method)
    ds, dt = stats.xty.shape
    centered = method == "center" or (method in ("procrustes", "lstsq", "auto") and center)
    q = map_matrix(stats, method, lambda_=lambda_, center=centered)
    s = isotropic_scale(stats, q, centered) if scale and method in ("procrustes", "auto") else 1.0
    zeros_s, zeros_t = np.zeros(ds), np.zeros(dt)
    target_mean = stats.mean_y if centered else zeros_t
    if not centered:
        query_mean = zeros_t
    elif query_mean is None:
        query_mean = target_mean
    return Alignment(
        method=method,
        source_dim=ds,
        target_dim=dt,
        n_pairs=stats.n,
        Q=q,
        scale=float(s),
        source_mean=stats.mean_x if centered else zeros_s,
        target_mean=target_mean,
        query_mean=query_mean,
        lambda_=lambda_,
        centered=centered,
        extra=dict(extra or {}),
    )


def map_matrix(stats: PairStats, method: str, *, lambda_: float | None, center: bool) -> np.ndarray:
    ds, dt = stats.xty.shape
    if method in ("none", "center"):
        return padded_identity(ds, dt)
    if method == "lstsq":
        return ridge_map(stats, center)
    if method == "procrustes":
        return shrunk_procrustes(stats.cross_cov(center), 0.0)
    if lambda_ is None:
        raise MixsearchError("method 'auto' needs a λ (chosen by cross-validation)")
    return shrunk_procrustes(stats.cross_cov(center), lambda_)


# -- cross-validation of λ ----------------------------------------------------------------


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold number of each row: a seeded permutation dealt round-robin (sizes differ by ≤ 1)."""
    ids = np.empty(n, dtype=np.int64)
    ids[np.random.default_rng(seed).permutation(n)] = np.arange(n) % folds
    return ids


def choose_lambda(
    x: np.ndarray,
    y: np.ndarray,
    *,
    query_mean: np.ndarray | None,
    center: bool,
    folds: int,
    lambdas: tuple[float, ...],
    seed: int,
    max_eval: int = DEFAULT_CV_EVAL,
) -> tuple[float, dict[str, float]]:
    """λ with the best mean held-out (R@1 + MRR)/2 of target→source pair retrieval.

    Each fold's held-out pairs (at most ``max_eval`` of them) are ranked against each other
    with the map fitted on the other folds. (Pooling all folds' held-out pairs into one gallery
    was tried and is wrong: items mapped by different folds' maps are not comparable, and on real
    low-rank image vectors it made every rotation look worse than centering.) Ties go to the
    larger λ (closer to plain centering: the safer map).
    """
    check_folds(len(x), folds)
    ids = fold_ids(len(x), folds, seed)
    rng = np.random.default_rng([seed, 3])
    total = PairStats.of(x, y)
    sums = np.zeros(len(lambdas))
    for f in range(folds):
        held = np.flatnonzero(ids == f)
        train = total - PairStats.of(x[held], y[held])
        rows = np.sort(rng.permutation(held)[:max_eval])
        c = train.cross_cov(center)
        mean_x = train.mean_x if center else 0.0
        mean_q = (query_mean if query_mean is not None else train.mean_y) if center else 0.0
        queries = y[rows] - mean_q
        for i, lam in enumerate(lambdas):
            sums[i] += _score(queries, (x[rows] - mean_x) @ shrunk_procrustes(c, lam))
    scores = [float(v) / folds for v in sums]
    best = max(range(len(lambdas)), key=lambda i: (round(scores[i], 9), lambdas[i]))
    return lambdas[best], {
        _lambda_key(lam): float(s) for lam, s in zip(lambdas, scores, strict=True)
    }


def _score(queries: np.ndarray, gallery: np.ndarray) -> float:
    metrics = pair_retrieval(queries, gallery)
    return 0.5 * (metrics["R@1"] + metrics["MRR"])


def _lambda_key(lam: float) -> str:
    return "inf" if math.isinf(lam) else f"{lam:g}"


def _lambda_grid(lambdas: Iterable[float] | None) -> tuple[float, ...]:
    grid = tuple(float(v) for v in (DEFAULT_LAMBDAS if lambdas is None else lambdas))
    if not grid or any(not v >= 0 for v in grid):
        raise MixsearchError(f"lambdas must be a non-empty list of values ≥ 0, got {grid}")
    return grid


# -- streaming internals ------------------------------------------------------------------


def _query_mean(query: np.ndarray | None, stats: PairStats, normalize: bool) -> np.ndarray | None:
    if query is None:
        return None
    q = check_matrix(query, "query")
    dt = stats.xty.shape[1]
    if q.shape[1] != dt:
        raise MixsearchError(f"query vectors have dimension {q.shape[1]}, target has {dt}")
    q = np.asarray(q, dtype=np.float64)
    return (normalize_rows(q) if normalize else q).mean(axis=0)


class _Accumulator:
    """Validates, normalises and accumulates chunks; keeps a bottom-k random sample for CV."""

    def __init__(self, keep_sample: int, seed: int, normalize: bool, grams: bool) -> None:
        self.stats: PairStats | None = None
        self.normalize = normalize
        self.grams = grams
        self.offset = 0
        self.bad: dict[str, list[np.ndarray]] = {}
        self.bad_counts: dict[str, int] = {}
        self.sampler = _BottomKSampler(keep_sample, seed)

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        x = as_matrix(x, "source chunk")
        y = as_matrix(y, "target chunk")
        check_pair_rows(x, y)
        self._check_dims(x, y)
        x64 = np.array(x, dtype=np.float64)  # the one copy of this chunk
        y64 = np.array(y, dtype=np.float64)
        # one pass finds bad rows and the norms: a NaN/inf anywhere makes the norm non-finite
        x_norms, y_norms = _row_norms(x64), _row_norms(y64)
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


class _BottomKSampler:
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


def _row_norms(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return np.sqrt(np.einsum("ij,ij->i", x, x))


def _file_chunks(
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
        _release_pages(x)
        _release_pages(y)


def _release_pages(arr: np.ndarray) -> None:
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
