"""Choosing the shrinkage λ of `auto` by grouped k-fold cross-validation.

For each fold, the map is fitted on the other folds' statistics (total − fold, no second pass)
and every λ of the grid is scored on that fold's held-out pairs by two objectives
(`mixsearch.align.mixed`):

* ``mixed`` (the default chooser): each held-out text ranks a mixed gallery of the fold's images,
  its other texts and their fused image+text documents, as the engine would store them; score =
  MRR of the text's own image. This is the product's ranking.
* ``pairs`` (diagnostic; the chooser for bridges between two text models, where queries only
  ever meet the other side): each held-out text ranks the fold's images only; (R@1 + MRR)/2.

Ties go to the larger λ (closer to plain centering: the safer map). All polar factors of one fold
come from one precomputed subspace when the fold has fewer pairs than dimensions (`FoldMaps`),
and are computed in float32 — λ is chosen by ranking, which float32 resolves — so a fit costs
folds × |grid| small SVDs and nothing else of note.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mixsearch.align.maps import padded_identity, rms_singular, shifted_polar
from mixsearch.align.mixed import DEFAULT_ALPHA, heldout_scores
from mixsearch.align.stats import PairStats
from mixsearch.align.validate import check_folds
from mixsearch.errors import MixsearchError

# λ is relative to the RMS singular value of the cross-covariance; inf = plain centering, which
# keeps `auto` from ever being much worse than centering when pairs are few. Denser around
# 0.3–3, where mixed-modality ranking on real CLIP vectors peaks.
DEFAULT_LAMBDAS = (0.0, 0.03, 0.1, 0.3, 0.5, 1.0, 2.0, 5.0, math.inf)
DEFAULT_CV_EVAL = 1_000  # held-out pairs per fold ranked against each other to score a λ
OBJECTIVES = ("mixed", "pairs")
LOW_RANK_SHARE = 0.8  # use a fold's data subspace when it spans less than this share of D


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
    """The first row of each group among ``rows``: identical gallery items would make ties, and
    another caption of the query's own photo is not a competitor."""
    _, first = np.unique(groups[rows], return_index=True)
    return rows[np.sort(first)]


class FoldMaps:
    """x ↦ x·Q_λ for every λ of one fold, from one cross-covariance C.

    When the fold's centred training rows span a subspace W of dimension k < D (fewer pairs than
    dimensions), C maps W into W and is zero on W⊥, so C + μI is μ·I on W⊥ and the polar factor
    is W·polar(WᵀCW + μI)·Wᵀ + (I − WWᵀ): a k×k SVD per λ instead of a D×D one, exactly. (The
    same completion by the identity is what `polar_factor` gives a rank-deficient C at λ = 0.)
    """

    def __init__(self, c: np.ndarray, basis: np.ndarray | None) -> None:
        self.scale = rms_singular(c)
        self.basis = None if basis is None else basis.astype(np.float32)
        inner = c if basis is None else basis.T @ c @ basis
        self.inner = inner.astype(np.float32)

    def mapper(self, lambda_: float) -> Callable[[np.ndarray], np.ndarray]:
        if math.isinf(lambda_):
            eye = padded_identity(*self._full_shape()).astype(np.float32)
            return lambda x: x @ eye
        polar = shifted_polar(self.inner, self.scale, lambda_).astype(np.float32)
        if self.basis is None:
            return lambda x: x @ polar
        w = self.basis
        delta = polar - np.eye(len(polar), dtype=np.float32)
        return lambda x: x + ((x @ w) @ delta) @ w.T

    def _full_shape(self) -> tuple[int, int]:
        return self.inner.shape if self.basis is None else (len(self.basis), len(self.basis))


def data_basis(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Orthonormal basis of the span of the rows of x and y (same dimension), or None when it
    would not be much smaller than the space itself."""
    dim = x.shape[1]
    if x.shape[1] != y.shape[1] or 2 * len(x) >= LOW_RANK_SHARE * dim:
        return None
    import scipy.linalg  # here, not at the top: it costs a cold `mixsearch search` a second

    stacked = np.concatenate([x, y], axis=0).T
    q, r, _ = scipy.linalg.qr(stacked, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > diag[0] * 1e-10).sum()) if len(diag) and diag[0] > 0 else 0
    return q[:, :rank] if rank else None


@dataclass
class CVResult:
    """Per-λ scores of both objectives (means over folds) and the λ the chooser picked."""

    lambda_: float
    objective: str
    lambdas: tuple[float, ...]
    mixed: list[dict[str, float]]
    pairs: list[dict[str, float]]
    top_share: list[dict[str, float]]
    alpha: float | None
    before: dict[str, dict[str, float]] | None = None  # raw vectors, no map (same dims only)

    def best_by(self, objective: str) -> float:
        """The λ ``objective`` would choose (ties to the larger λ)."""
        scores = replace(self, objective=objective).chooser_scores()
        best = max(range(len(scores)), key=lambda i: (round(scores[i], 9), self.lambdas[i]))
        return self.lambdas[best]

    def chooser_scores(self) -> list[float]:
        if self.objective == "mixed":
            return [m["MRR"] for m in self.mixed]
        return [0.5 * (p["R@1"] + p["MRR"]) for p in self.pairs]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per λ key both objectives and the top-10 shares."""
        return {
            "objective": self.objective,
            "primary": "mixed MRR" if self.objective == "mixed" else "pairs (R@1+MRR)/2",
            "alpha": self.alpha,
            "chosen": lambda_key(self.lambda_),
            "best_by": {o: lambda_key(self.best_by(o)) for o in OBJECTIVES},
            "before": self.before,
            "scores": {
                lambda_key(lam): s
                for lam, s in zip(self.lambdas, self.chooser_scores(), strict=True)
            },
            "by_lambda": {
                lambda_key(lam): {"mixed": m, "pairs": p, "top_share": t}
                for lam, m, p, t in zip(
                    self.lambdas, self.mixed, self.pairs, self.top_share, strict=True
                )
            },
        }


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
    objective: str = "mixed",
    alpha: float | None = DEFAULT_ALPHA,
) -> CVResult:
    """Score every λ on every held-out fold; pick the best mean by ``objective``.

    Each fold's held-out pairs (at most ``max_eval`` of them, one per distinct source vector)
    are scored with the map fitted on the other folds; pairs that share a source vector stay in
    one fold (`fold_ids`). (Pooling all folds' held-out pairs into one gallery was tried and is
    wrong: items mapped by different folds' maps are not comparable.) ``alpha=None``: no fused
    documents in the mixed gallery.
    """
    check_objective(objective)
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
    per_fold, raw = [], []
    for f in range(folds):
        held = np.flatnonzero(ids == f)
        test = HeldOut.draw(held, groups, max_eval, rng)
        train = total - PairStats.of(x[held], y[held])
        per_fold.append(
            _score_fold(
                x,
                y,
                ids != f,
                train,
                test,
                lambdas,
                center=center,
                query_mean=query_mean,
                alpha=alpha,
            )
        )
        if x.shape[1] == y.shape[1]:  # raw cosine across spaces of different dims means nothing
            raw.append([test.scores(y[test.queries], x[test.items], y[test.items], alpha)])
    result = _combine(per_fold, lambdas, objective, alpha)
    if raw:
        result.before = _mean_scores(raw, 0)
    return result


def _score_fold(
    x: np.ndarray,
    y: np.ndarray,
    train_mask: np.ndarray,
    train: PairStats,
    test: HeldOut,
    lambdas: tuple[float, ...],
    *,
    center: bool,
    query_mean: np.ndarray | None,
    alpha: float | None,
) -> list[dict[str, dict[str, float]]]:
    mean_x = train.mean_x if center else 0.0
    mean_y = train.mean_y if center else 0.0
    mean_q = (query_mean if query_mean is not None else train.mean_y) if center else 0.0
    basis = data_basis(x[train_mask] - mean_x, y[train_mask] - mean_y)
    maps = FoldMaps(train.cross_cov(center), basis)
    queries = (y[test.queries] - mean_q).astype(np.float32)
    texts = (y[test.items] - mean_y).astype(np.float32)
    images = (x[test.items] - mean_x).astype(np.float32)
    return [test.scores(queries, maps.mapper(lam)(images), texts, alpha) for lam in lambdas]


@dataclass
class HeldOut:
    """One fold's held-out set: ``items`` (one row per distinct source vector: its image, and
    its text as a document) and ``queries`` (rows whose text queries; every caption of an item,
    so a photo's five captions all count) with ``own``, each query's item position."""

    items: np.ndarray
    queries: np.ndarray
    own: np.ndarray

    @classmethod
    def draw(
        cls, held: np.ndarray, groups: np.ndarray, max_eval: int, rng: np.random.Generator
    ) -> HeldOut:
        items = np.sort(rng.permutation(_one_per_group(held, groups))[:max_eval])
        position = {int(g): i for i, g in enumerate(groups[items])}
        queries = np.array([r for r in held if int(groups[r]) in position], dtype=np.int64)
        queries = np.sort(rng.permutation(queries)[:max_eval])
        own = np.array([position[int(g)] for g in groups[queries]], dtype=np.int64)
        return cls(items, queries, own)

    def scores(
        self, queries: np.ndarray, images: np.ndarray, texts: np.ndarray, alpha: float | None
    ) -> dict[str, dict[str, float]]:
        return heldout_scores(queries, images, texts, alpha, own=self.own)


def _combine(
    per_fold: list[list[dict[str, dict[str, float]]]],
    lambdas: tuple[float, ...],
    objective: str,
    alpha: float | None,
) -> CVResult:
    means = [_mean_scores(per_fold, i) for i in range(len(lambdas))]
    result = CVResult(
        lambda_=math.inf,
        objective=objective,
        lambdas=lambdas,
        mixed=[m["mixed"] for m in means],
        pairs=[m["pairs"] for m in means],
        top_share=[m["top_share"] for m in means],
        alpha=alpha,
    )
    result.lambda_ = result.best_by(objective)
    return result


def _mean_scores(
    per_fold: list[list[dict[str, dict[str, float]]]], i: int
) -> dict[str, dict[str, float]]:
    """Mean over folds of entry ``i``'s scores, part by part."""
    first = per_fold[0][i]
    return {
        part: {k: float(np.mean([fold[i][part][k] for fold in per_fold])) for k in first[part]}
        for part in first
    }


def check_objective(objective: str) -> str:
    if objective not in OBJECTIVES:
        raise MixsearchError(
            f"unknown cross-validation objective {objective!r}; use one of {', '.join(OBJECTIVES)}"
        )
    return objective


def lambda_key(lam: float) -> str:
    return "inf" if math.isinf(lam) else f"{lam:g}"


def lambda_grid(lambdas: Iterable[float] | None) -> tuple[float, ...]:
    grid = tuple(float(v) for v in (DEFAULT_LAMBDAS if lambdas is None else lambdas))
    if not grid or any(not v >= 0 for v in grid):
        raise MixsearchError(f"lambdas must be a non-empty list of values ≥ 0, got {grid}")
    return grid
