"""Diagnostics of an alignment against paired data, following arXiv 2510.13406.

* dot-product distortion ε = ‖XXᵀ − YYᵀ‖_F, computed from D×D products only
  (‖XXᵀ − YYᵀ‖²_F = ‖XᵀX‖²_F + ‖YᵀY‖²_F − 2‖XᵀY‖²_F), and the paper's bound (2D)^{1/4}·√ε on
  the best orthogonal residual, next to the residual plain uncentred Procrustes achieves on the
  same data (‖X‖² + ‖Y‖² − 2‖XᵀY‖_* — the nuclear norm, again no N×N or N×D product) and the
  residual of the alignment being reported;
* modality gap ‖mean(X) − mean(Y)‖ before, and after the alignment (on normalised outputs,
  which is what an index sees);
* held-out pair retrieval (target row i queries, source rows the gallery), k-fold: each method is
  fitted on the other folds' statistics and tested on (up to ``max_pairs`` rows of) the held-out
  fold. ``auto`` is re-fitted with the reported alignment's λ fixed (no nested search);
* why λ is what it is: `auto`'s cross-validation on these pairs, per λ both objectives (held-out
  mixed ranking and pair retrieval, `mixsearch.align.crossval`), which objective chose and what
  each would choose, and the modality shares of the held-out top 10 before any map and at the
  chosen λ.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mixsearch.align.alignment import Alignment
from mixsearch.align.crossval import (
    DEFAULT_LAMBDAS,
    choose_lambda,
    duplicate_groups,
    fold_ids,
)
from mixsearch.align.fit import alignment_from_stats, fit_alignment
from mixsearch.align.retrieval import normalize_rows, pair_retrieval
from mixsearch.align.stats import PairStats
from mixsearch.align.validate import check_folds, check_matrix, check_pair_rows
from mixsearch.errors import MixsearchError

DEFAULT_MAX_PAIRS = 20_000


def alignment_report(
    source: np.ndarray,
    target: np.ndarray,
    alignment: Alignment | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    objective: str = "mixed",
    alpha: float | None = 0.5,
) -> dict[str, Any]:
    """Diagnostics dict (JSON-ready); fits ``auto`` first when no alignment is given (with
    ``objective``/``alpha``; a given alignment's own settings are used otherwise)."""
    x = check_matrix(source, "source")
    y = check_matrix(target, "target")
    check_pair_rows(x, y)
    check_folds(len(x), folds)
    if alignment is None:
        alignment = fit_alignment(
            x, y, "auto", folds=folds, seed=seed, objective=objective, alpha=alpha
        )
    _check_dims(alignment, x, y)
    if alignment.extra.get("normalized_inputs", True):
        x, y = normalize_rows(np.asarray(x, np.float64)), normalize_rows(np.asarray(y, np.float64))
    stats = PairStats.of(x, y, grams=True)
    return {
        "n_pairs": len(x),
        "source_dim": x.shape[1],
        "target_dim": y.shape[1],
        "alignment": alignment.to_dict(),
        "lambda": alignment.to_dict()["lambda"],
        **procrustes_bound(stats),
        "residual_fitted": _fitted_residual(x, y, alignment),
        **_modality_gap(x, y, alignment),
        "retrieval": _heldout_retrieval(x, y, stats, alignment, folds, seed, max_pairs),
        "cv": _lambda_choice(x, y, alignment, folds, seed),
    }


def _lambda_choice(
    x: np.ndarray, y: np.ndarray, alignment: Alignment, folds: int, seed: int
) -> dict[str, Any]:
    """`auto`'s cross-validation on the report's pairs, with the alignment's own settings."""
    cv = alignment.extra.get("cv") or {}
    grid = tuple(float(k) for k in cv.get("by_lambda", {})) or DEFAULT_LAMBDAS
    result = choose_lambda(
        x,
        y,
        query_mean=_separate_query_mean(alignment),
        center=alignment.centered or alignment.method in ("none", "center"),
        folds=folds,
        lambdas=grid,
        seed=seed,
        objective=cv.get("objective", "mixed"),
        alpha=cv.get("alpha", 0.5) if cv else 0.5,
    )
    return {"folds": folds, **result.to_dict()}


def _separate_query_mean(alignment: Alignment) -> np.ndarray | None:
    """The query mean when the fit had its own queries (else each fold's text mean, as in
    the fit's cross-validation)."""
    same = np.array_equal(alignment.query_mean, alignment.target_mean)
    return None if same or not alignment.centered else alignment.query_mean


def _check_dims(alignment: Alignment, x: np.ndarray, y: np.ndarray) -> None:
    if (x.shape[1], y.shape[1]) != (alignment.source_dim, alignment.target_dim):
        raise MixsearchError(
            f"data dims ({x.shape[1]}, {y.shape[1]}) do not match the alignment's "
            f"({alignment.source_dim}, {alignment.target_dim})"
        )


def procrustes_bound(stats: PairStats) -> dict[str, float]:
    """ε, the paper's bound and the plain uncentred Procrustes residual, from statistics only."""
    assert stats.xtx is not None and stats.yty is not None, "needs PairStats(grams=True)"
    sq_x, sq_y = stats.sq_x, stats.sq_y
    eps_sq = np.sum(stats.xtx**2) + np.sum(stats.yty**2) - 2.0 * np.sum(stats.xty**2)
    eps = math.sqrt(max(float(eps_sq), 0.0))  # tiny negatives are rounding
    dim = max(stats.xty.shape)
    nuclear = float(np.linalg.svd(stats.xty, compute_uv=False).sum())
    residual = math.sqrt(max(sq_x + sq_y - 2.0 * nuclear, 0.0))
    return {
        "distortion": eps,
        "bound": (2.0 * dim) ** 0.25 * math.sqrt(eps),
        "residual_procrustes": residual,
        "target_norm": math.sqrt(sq_y),
    }


def _fitted_residual(x: np.ndarray, y: np.ndarray, alignment: Alignment) -> float:
    mapped = alignment.transform(x, "source", normalize=False).astype(np.float64)
    return float(np.linalg.norm(mapped - alignment.transform(y, "target", normalize=False)))


def _modality_gap(x: np.ndarray, y: np.ndarray, alignment: Alignment) -> dict[str, float]:
    dim = max(x.shape[1], y.shape[1])
    before = _padded(x.mean(axis=0), dim) - _padded(y.mean(axis=0), dim)
    after = alignment.transform(x, "source").mean(axis=0) - alignment.transform(y, "target").mean(
        axis=0
    )
    return {"gap_before": float(np.linalg.norm(before)), "gap_after": float(np.linalg.norm(after))}


def _padded(v: np.ndarray, dim: int) -> np.ndarray:
    return np.pad(v, (0, dim - len(v)))


def _heldout_retrieval(
    x: np.ndarray,
    y: np.ndarray,
    stats: PairStats,
    alignment: Alignment,
    folds: int,
    seed: int,
    max_pairs: int,
) -> dict[str, Any]:
    methods = ["center", "procrustes"]
    if x.shape[1] == y.shape[1]:
        methods.insert(0, "none")  # raw cosine across spaces of different dims means nothing
    if alignment.method not in methods:
        methods.append(alignment.method)
    ids = fold_ids(len(x), folds, seed, duplicate_groups(x))
    rng = np.random.default_rng([seed, 2])
    totals: dict[str, dict[str, float]] = {m: {} for m in methods}
    tested = 0
    for f in range(folds):
        held = np.flatnonzero(ids == f)
        train = stats - PairStats.of(x[held], y[held], grams=True)
        test = np.sort(rng.choice(held, min(len(held), max(max_pairs // folds, 1)), replace=False))
        tested += len(test)
        for method in methods:
            fitted = alignment_from_stats(
                train,
                method,
                lambda_=alignment.lambda_ if method == "auto" else None,
                center=alignment.centered if method == alignment.method else True,
            )
            metrics = pair_retrieval(
                fitted.transform(y[test], "target"), fitted.transform(x[test], "source")
            )
            for key, value in metrics.items():
                totals[method][key] = totals[method].get(key, 0.0) + value / folds
    return {
        "direction": "target->source",
        "folds": folds,
        "gallery_size": tested // folds,
        "before": totals.get("none"),
        "after": totals[alignment.method],
        "methods": totals,
    }


def format_report(report: dict[str, Any]) -> str:
    """A short human-readable rendering of `alignment_report`'s dict."""
    a = report["alignment"]
    r = report["retrieval"]
    lines = [
        f"pairs {report['n_pairs']}, dims {report['source_dim']} -> {report['target_dim']}",
        f"alignment: {a['method']} (lambda {a['lambda']}, centered {a['centered']}, "
        f"fingerprint {a['fingerprint']})",
        f"dot-product distortion eps = ||XX^T - YY^T||_F = {report['distortion']:.4f}",
        f"Procrustes residual {report['residual_procrustes']:.4f} <= bound (2D)^1/4 sqrt(eps) "
        f"= {report['bound']:.4f}   (||Y||_F = {report['target_norm']:.4f})",
        f"residual of this alignment: {report['residual_fitted']:.4f}",
        f"modality gap ||mean(X) - mean(Y)||: {report['gap_before']:.4f} -> "
        f"{report['gap_after']:.4f}",
        f"held-out {r['direction']} retrieval, {r['folds']} folds, gallery {r['gallery_size']}:",
    ]
    for method, metrics in r["methods"].items():
        cells = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        lines.append(f"  {method:<11} {cells}")
    return "\n".join(lines + _format_cv(report["cv"]))


def _format_cv(cv: dict[str, Any]) -> list[str]:
    """Per λ both objectives and the top-10 modality shares; the chooser marked with *."""
    kinds = "image/text/image+text"
    lines = [
        f"choosing lambda ({cv['folds']}-fold CV, chooser: {cv['primary']}; mixed gallery = "
        f"held-out images, other texts"
        + (f", fused documents at alpha {cv['alpha']}" if cv["alpha"] is not None else "")
        + "):",
        f"  {'lambda':>7}  {'mixed MRR':>9}  {'mixed nDCG@10':>13}  {'pairs R@1':>9}  "
        f"{'pairs MRR':>9}  top-10 {kinds}",
    ]
    for key, entry in cv["by_lambda"].items():
        mark = "*" if key == cv["chosen"] else " "
        mixed, pairs = entry["mixed"], entry["pairs"]
        lines.append(
            f"{mark} {key:>7}  {mixed['MRR']:9.4f}  {mixed['nDCG@10']:13.4f}  "
            f"{pairs['R@1']:9.4f}  {pairs['MRR']:9.4f}  {_shares(entry['top_share'])}"
        )
    best = cv["best_by"]
    lines.append(
        f"chosen lambda {cv['chosen']} by {cv['objective']}; mixed ranking alone would choose "
        f"{best['mixed']}, pair retrieval alone {best['pairs']}"
    )
    after = cv["by_lambda"][cv["chosen"]]["top_share"]
    before = f"{_shares(cv['before']['top_share'])} without a map; " if cv["before"] else ""
    lines.append(f"held-out top-10 {kinds}: {before}{_shares(after)} at lambda {cv['chosen']}")
    return lines


def _shares(shares: dict[str, float]) -> str:
    return "/".join(f"{100 * v:.0f}%" for v in shares.values())
