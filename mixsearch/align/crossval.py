"""Choosing the shrinkage λ of `auto` by k-fold cross-validation of held-out pair retrieval.

For each fold, the map is fitted on the other folds' statistics (total − fold, no second pass)
and scored by (R@1 + MRR)/2 of target→source retrieval among that fold's held-out pairs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from mixsearch.align.maps import shrunk_procrustes
from mixsearch.align.retrieval import pair_retrieval
from mixsearch.align.stats import PairStats
from mixsearch.align.validate import check_folds
from mixsearch.errors import MixsearchError

# λ is relative to the RMS singular value of the cross-covariance; inf = plain centering, which
# keeps `auto` from ever being much worse than centering when pairs are few
DEFAULT_LAMBDAS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, math.inf)
DEFAULT_CV_EVAL = 1_000  # held-out pairs per fold ranked against each other to score a λ


def fold_ids(n: int, folds: int, seed: int, groups: np.ndarray | None = None) -> np.ndarray:
    """Fold number of each row: a seeded permutation of the groups dealt round-robin.

    Rows of one group (e.g. five captions of one photo: the same image vector five times) share
    a fold, so a held-out fold never holds an item the map was fitted on — otherwise the
    cross-validation rewards memorising those items and picks too little shrinkage.
    """
    if groups is None:
        groups = np.arange(n)
    n_groups = int(groups.max()) + 1 if n else 0
    group_fold = np.empty(n_groups, dtype=np.int64)
    group_fold[np.random.default_rng(seed).permutation(n_groups)] = np.arange(n_groups) % folds
    return group_fold[groups]


def duplicate_groups(x: np.ndarray) -> np.ndarray:
    """Group number of each row; identical rows share one."""
    seen: dict[bytes, int] = {}
    rows = np.ascontiguousarray(x)
    return np.array([seen.setdefault(row.tobytes(), len(seen)) for row in rows], dtype=np.int64)


def _one_per_group(rows: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The first row of each group among ``rows``: identical gallery items would make ties."""
    _, first = np.unique(groups[rows], return_index=True)
    return rows[np.sort(first)]


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

    Each fold's held-out pairs (at most ``max_eval`` of them, one per distinct source vector)
    are ranked against each other with the map fitted on the other folds; pairs that share a
    source vector stay in one fold (`fold_ids`). (Pooling all folds' held-out pairs into one gallery
    was tried and is wrong: items mapped by different folds' maps are not comparable, and on real
    low-rank image vectors it made every rotation look worse than centering.) Ties go to the
    larger λ (closer to plain centering: the safer map).
    """
    check_folds(len(x), folds)
    groups = duplicate_groups(x)
    if groups.max() + 1 < folds:
        raise MixsearchError(
            f"only {groups.max() + 1} distinct source vectors among {len(x)} pairs: "
            f"cross-validation needs at least {folds}"
        )
    ids = fold_ids(len(x), folds, seed, groups)
    rng = np.random.default_rng([seed, 3])
    total = PairStats.of(x, y)
    sums = np.zeros(len(lambdas))
    for f in range(folds):
        held = np.flatnonzero(ids == f)
        train = total - PairStats.of(x[held], y[held])
        distinct = _one_per_group(held, groups)
        rows = np.sort(rng.permutation(distinct)[:max_eval])
        c = train.cross_cov(center)
        mean_x = train.mean_x if center else 0.0
        mean_q = (query_mean if query_mean is not None else train.mean_y) if center else 0.0
        queries = y[rows] - mean_q
        for i, lam in enumerate(lambdas):
            sums[i] += _score(queries, (x[rows] - mean_x) @ shrunk_procrustes(c, lam))
    scores = [float(v) / folds for v in sums]
    best = max(range(len(lambdas)), key=lambda i: (round(scores[i], 9), lambdas[i]))
    return lambdas[best], {
        lambda_key(lam): float(s) for lam, s in zip(lambdas, scores, strict=True)
    }


def _score(queries: np.ndarray, gallery: np.ndarray) -> float:
    metrics = pair_retrieval(queries, gallery)
    return 0.5 * (metrics["R@1"] + metrics["MRR"])


def lambda_key(lam: float) -> str:
    return "inf" if math.isinf(lam) else f"{lam:g}"


def lambda_grid(lambdas: Iterable[float] | None) -> tuple[float, ...]:
    grid = tuple(float(v) for v in (DEFAULT_LAMBDAS if lambdas is None else lambdas))
    if not grid or any(not v >= 0 for v in grid):
        raise MixsearchError(f"lambdas must be a non-empty list of values ≥ 0, got {grid}")
    return grid
