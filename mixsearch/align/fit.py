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

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.align.alignment import Alignment
from mixsearch.align.crossval import check_objective, choose_lambda, data_basis, lambda_grid
from mixsearch.align.maps import (
    isotropic_scale,
    padded_identity,
    ridge_map,
    shrunk_procrustes,
    subspace_procrustes,
)
from mixsearch.align.mixed import DEFAULT_ALPHA
from mixsearch.align.retrieval import normalize_rows
from mixsearch.align.stats import PairStats
from mixsearch.align.stream import ChunkAccumulator, file_chunks
from mixsearch.align.validate import (
    as_matrix,
    check_folds,
    check_matrix,
    check_pair_rows,
    load_npy,
)
from mixsearch.errors import MixsearchError

METHODS = ("none", "center", "procrustes", "lstsq", "auto")
DEFAULT_CV_SAMPLE = 20_000
DEFAULT_CHUNK_ROWS = 16_384  # 16k × 512 float64 = 64 MB per side per chunk
# Rows a rotation fit keeps besides its statistics: with fewer pairs than ~0.4 × D, all of them,
# so the map is computed in the pairs' own subspace (`subspace_procrustes`); 2,048 covers D ≤ 5,120
SUBSPACE_ROWS = 2_048


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
    objective: str = "mixed",
    alpha: float | None = DEFAULT_ALPHA,
    extra: dict[str, Any] | None = None,
) -> Alignment:
    """Fit a map from ``source`` rows onto their partners in ``target``.

    Args:
        source: [N, ds] vectors of the side to map (e.g. image embeddings).
        target: [N, dt] their partners (e.g. the captions' text embeddings), row for row.
        method: ``"none"``, ``"center"``, ``"procrustes"``, ``"lstsq"`` or ``"auto"``
            (shrunk Procrustes with λ chosen by cross-validation).
        query: Optional [M, dt] sample queries; their mean centres the query side.
        center: Subtract each side's mean first.
        scale: Also fit an isotropic scale.
        folds: Cross-validation folds for ``auto``.
        lambdas: The λ grid for ``auto`` (default: a built-in grid). A single value is used
            as given: with nothing to choose, no cross-validation runs.
        seed: Seed of the cross-validation subsample and folds.
        cv_sample: At most this many pairs are used for cross-validation.
        normalize_inputs: L2-normalise rows first (as the engine does before transforming).
        objective: What ``auto``'s cross-validation ranks (`mixsearch.align.crossval`):
            ``"mixed"`` — held-out texts against a mixed gallery of images, other texts and
            image+text documents fused with text weight ``alpha``, as the engine ranks;
            ``"pairs"`` — against images only (bridges between two text models).
        alpha: Text weight of the fused documents in the mixed gallery; None leaves them out
            (fit pairs that are not image+text documents).
        extra: Metadata to keep in the alignment.

    Returns:
        An `Alignment` (immutable, saveable) with its fingerprint and fit diagnostics.

    Raises:
        MixsearchError: bad shapes, non-finite or zero rows, too few pairs for the folds, or an
            unknown method.
    """
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
        objective=objective,
        alpha=alpha,
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
    objective: str = "mixed",
    alpha: float | None = DEFAULT_ALPHA,
    extra: dict[str, Any] | None = None,
) -> Alignment:
    """Fit from chunks ``(source_rows, target_rows)`` in one pass, O(D² + cv_sample·D) memory."""
    check_method(method)
    check_objective(objective)
    grid = lambda_grid(lambdas)
    cross_validate = method == "auto" and len(grid) > 1
    rotation = method in ("procrustes", "auto")
    acc = ChunkAccumulator(
        keep_sample=cv_sample if cross_validate else (SUBSPACE_ROWS if rotation else 0),
        seed=seed,
        normalize=normalize_inputs,
        grams=method == "lstsq",
    )
    for x, y in pairs:
        acc.add(x, y)
    stats = acc.finish()
    query_mean = _query_mean(query, stats, normalize_inputs)
    info: dict[str, Any] = {"normalized_inputs": normalize_inputs, **(extra or {})}
    lambda_ = grid[0] if method == "auto" else None
    if cross_validate:
        check_folds(stats.n, folds)
        sx, sy = acc.sample()
        cv = choose_lambda(
            sx,
            sy,
            query_mean=query_mean,
            center=center,
            folds=folds,
            lambdas=grid,
            seed=seed,
            objective=objective,
            alpha=alpha,
        )
        lambda_ = cv.lambda_
        info["cv"] = {"folds": folds, "pairs": len(sx), **cv.to_dict()}
    return alignment_from_stats(
        stats,
        method,
        lambda_=lambda_,
        center=center,
        scale=scale,
        query_mean=query_mean,
        extra=info,
        basis=_pairs_subspace(acc, stats, center) if rotation else None,
    )


def _pairs_subspace(acc: ChunkAccumulator, stats: PairStats, center: bool) -> np.ndarray | None:
    """Orthonormal basis of the (centred) fit rows' span when every row was kept and the span is
    much smaller than the space (`crossval.data_basis`), else None."""
    x, y = acc.sample()
    if len(x) != stats.n:
        return None
    if center:
        x, y = x - stats.mean_x, y - stats.mean_y
    return data_basis(x, y)


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
    chunks = file_chunks(x, y, chunk_rows, progress)
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
    basis: np.ndarray | None = None,
) -> Alignment:
    """Build the `Alignment` of ``method`` from accumulated statistics; ``basis``: an
    orthonormal basis of the (centred when ``center``) fit rows' span, for `subspace_procrustes`."""
    check_method(method)
    ds, dt = stats.xty.shape
    centered = method == "center" or (method in ("procrustes", "lstsq", "auto") and center)
    q = map_matrix(stats, method, lambda_=lambda_, center=centered, basis=basis)
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


def map_matrix(
    stats: PairStats,
    method: str,
    *,
    lambda_: float | None,
    center: bool,
    basis: np.ndarray | None = None,
) -> np.ndarray:
    ds, dt = stats.xty.shape
    if method in ("none", "center"):
        return padded_identity(ds, dt)
    if method == "lstsq":
        return ridge_map(stats, center)
    if method == "procrustes":
        lambda_ = 0.0
    if lambda_ is None:
        raise MixsearchError("method 'auto' needs a λ (chosen by cross-validation)")
    if basis is not None:
        return subspace_procrustes(stats.cross_cov(center), basis, lambda_)
    return shrunk_procrustes(stats.cross_cov(center), lambda_)


def _query_mean(query: np.ndarray | None, stats: PairStats, normalize: bool) -> np.ndarray | None:
    if query is None:
        return None
    q = check_matrix(query, "query")
    dt = stats.xty.shape[1]
    if q.shape[1] != dt:
        raise MixsearchError(f"query vectors have dimension {q.shape[1]}, target has {dt}")
    q = np.asarray(q, dtype=np.float64)
    return (normalize_rows(q) if normalize else q).mean(axis=0)
