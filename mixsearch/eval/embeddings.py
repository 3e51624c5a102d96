"""The precomputed-embedding benchmark: alignment methods compared on vectors already computed.

A folder (format in ``docs/embeddings-format.md``) holds query vectors, document text/image
vectors with each document's modality, qrels, and *fit pairs* — image/text vectors of other items,
disjoint from the test queries and corpus — from which alignments and means are estimated. For
each method we fit ``mixsearch.align.fit_alignment`` on the fit pairs, build document vectors with
``mixsearch.fusion.document_vectors`` (α-fusion for image+text) and rank them with the store's own
Flat FAISS index (`rank_documents`), so the numbers describe the engine, not a copy of it.

Uncertainty, two kinds, both reported beside each headline figure (the headline uses an alignment
fitted on *all* fit pairs):

- ``fit_sd``: standard deviation over ``splits`` refits, each on a random ``fit_fraction`` of the
  fit pairs (seeds ``seed..seed+splits-1``): how much the result depends on which fit pairs were
  drawn. Zero for ``none``, which fits nothing. ``auto``'s refits reuse the headline's λ by
  default (``refit_cv=False``): its cross-validation is most of a run's cost, so re-choosing λ on
  every refit made the benchmark six times slower; ``refit_cv=True`` re-chooses it per refit, and
  the sd then also covers the choice of λ.
- ``ci95``: a percentile bootstrap over test queries (``bootstrap`` resamples) of the headline
  run: how much the figure would move with another sample of queries of the same kind.

The folder's reader and writer are `mixsearch.eval.embeddings_folder`, ranking and scoring a run
`mixsearch.eval.run_scoring`; this module holds the per-method run and refit loop and re-exports
their public names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.errors import MixsearchError
from mixsearch.eval.embeddings_folder import (
    REQUIRED_FILES,
    EmbeddingSet,
    is_number,
    load_embeddings_dir,
    save_embeddings_dir,
)
from mixsearch.eval.metrics import MODALITY_LABELS
from mixsearch.eval.run_scoring import Rankings, evaluate_run, rank_documents, summarize_runs
from mixsearch.fusion import DEFAULT_ALPHA, document_vectors, query_vectors

__all__ = [
    "DEFAULT_DEPTH",
    "DEFAULT_METHODS",
    "REQUIRED_FILES",
    "EmbeddingSet",
    "Rankings",
    "check_shared_space",
    "evaluate_run",
    "is_number",
    "load_embeddings_dir",
    "rank_documents",
    "run_embeddings_benchmark",
    "save_embeddings_dir",
    "summarize_runs",
]

DEFAULT_METHODS = ("none", "center", "procrustes", "lstsq", "auto")
DEFAULT_DEPTH = 100  # ranking depth: MRR is MRR@100


def run_embeddings_benchmark(
    path: str | Path | EmbeddingSet,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    alpha: float = DEFAULT_ALPHA,
    k: int = 10,
    splits: int = 5,
    fit_fraction: float = 0.8,
    bootstrap: int = 1000,
    seed: int = 0,
    depth: int = DEFAULT_DEPTH,
    refit_cv: bool = False,
) -> dict[str, Any]:
    """Compare alignment methods on a precomputed-embedding folder; returns a JSON-ready dict.

    ``results["methods"][name]`` holds the headline metrics (alignment fitted on all fit pairs),
    ``fit_sd`` and ``ci95`` per metric (module docstring), ``by_modality`` and ``top{k}_share``;
    a method that cannot run on this data (e.g. ``none`` when image and text dimensions differ)
    holds ``{"error": reason}`` instead, and the others still run.
    """
    emb = path if isinstance(path, EmbeddingSet) else load_embeddings_dir(path)
    test_queries = _scored_queries(emb)
    if not len(test_queries):
        raise MixsearchError("no query has a relevant document in qrels.tsv; nothing to evaluate")
    docs = np.setdiff1d(np.arange(emb.n_docs), emb.excluded_docs)
    ctx = _RunContext(emb, test_queries, docs, alpha, k, depth)
    results: dict[str, Any] = {
        "k": k,
        "alpha": alpha,
        "depth": depth,
        "splits": splits,
        "fit_fraction": fit_fraction,
        "bootstrap": bootstrap,
        "seed": seed,
        "refit_cv": refit_cv,
        "n_queries": int(len(test_queries)),
        "n_docs": int(len(docs)),
        "n_fit_pairs": int(len(emb.fit_image)),
        "doc_modality_counts": _modality_counts(emb.doc_modality[docs]),
        "meta": emb.meta,
        "methods": {},
        "errors": [e.to_dict() for e in emb.errors],
    }
    from mixsearch.align.threads import one_blas_thread

    # fits are many small SVDs and rankings small matmuls: extra BLAS threads only spin
    with one_blas_thread():
        for method in methods:
            results["methods"][method] = _evaluate_method(
                ctx, method, splits, fit_fraction, bootstrap, seed, refit_cv
            )
    return results


@dataclass
class _RunContext:
    emb: EmbeddingSet
    queries: np.ndarray  # indices of the evaluated queries
    docs: np.ndarray  # indices of the documents put in the store
    alpha: float
    k: int
    depth: int


def _scored_queries(emb: EmbeddingSet) -> np.ndarray:
    """Queries with a usable vector and at least one relevant document still in the corpus."""
    dropped = set(emb.excluded_docs.tolist())
    has_relevant = np.array(
        [any(g > 0 and d not in dropped for d, g in q.items()) for q in emb.qrels], dtype=bool
    )
    has_relevant[emb.excluded_queries] = False
    return np.flatnonzero(has_relevant)


def _modality_counts(modality: np.ndarray) -> dict[str, int]:
    return {label: int((modality == code).sum()) for code, label in enumerate(MODALITY_LABELS)}


def _evaluate_method(
    ctx: _RunContext,
    method: str,
    splits: int,
    fit_fraction: float,
    bootstrap: int,
    seed: int,
    refit_cv: bool,
) -> dict[str, Any]:
    emb = ctx.emb
    try:
        check_shared_space(method, emb.fit_image.shape[1], emb.fit_text.shape[1])
        headline = _run_once(ctx, method, emb.fit_image, emb.fit_text, emb.fit_query)
        reused = None if refit_cv else headline["lambda"]
        refits = _refit_runs(ctx, method, splits, fit_fraction, seed, reused)
    except (MixsearchError, ValueError) as err:
        return {"error": " ".join(str(err).split())}
    return summarize_runs(headline, refits, ctx.k, bootstrap, seed)


def check_shared_space(method: str, source_dim: int, target_dim: int) -> None:
    """``none`` and ``center`` compare coordinates one to one: only meaningful in one space."""
    if method in ("none", "center") and source_dim != target_dim:
        raise MixsearchError(
            f"image vectors are {source_dim}-d and text vectors {target_dim}-d; {method!r} "
            "needs one shared space (use procrustes, lstsq or auto)"
        )


def _refit_runs(
    ctx: _RunContext,
    method: str,
    splits: int,
    fit_fraction: float,
    seed: int,
    lambda_: float | str | None = None,
) -> list[dict[str, Any]]:
    """Runs with alignments refitted on random subsets of the fit pairs (none for ``none``);
    ``lambda_``: ``auto``'s λ to reuse instead of cross-validating each refit."""
    if method == "none" or splits < 2:
        return []
    emb = ctx.emb
    runs = []
    for s in range(splits):
        rng = np.random.default_rng(seed + s)
        pick = _subset(rng, len(emb.fit_image), fit_fraction)
        fit_query = None
        if emb.fit_query is not None:
            fit_query = emb.fit_query[_subset(rng, len(emb.fit_query), fit_fraction)]
        runs.append(
            _run_once(ctx, method, emb.fit_image[pick], emb.fit_text[pick], fit_query, lambda_)
        )
    return runs


def _subset(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    size = max(2, int(round(n * fraction)))
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def _run_once(
    ctx: _RunContext,
    method: str,
    fit_image: np.ndarray,
    fit_text: np.ndarray,
    fit_query: np.ndarray | None,
    lambda_: float | str | None = None,
) -> dict[str, Any]:
    """Fit one alignment (``auto`` with ``lambda_`` given: that λ, no cross-validation), rank
    every test query, return per-query metrics and the rankings."""
    from mixsearch.align import fit_alignment
    from mixsearch.align.alignment import lambda_to_json

    emb = ctx.emb
    lambdas = None if lambda_ is None else [float(lambda_)]
    alignment = fit_alignment(
        fit_image, fit_text, method, query=fit_query, alpha=ctx.alpha, lambdas=lambdas
    )
    doc_vecs = document_vectors(
        _rows(emb.doc_text, ctx.docs),
        _rows(emb.doc_image, ctx.docs),
        emb.doc_modality[ctx.docs],
        alignment,
        ctx.alpha,
    )
    qvecs = query_vectors(emb.queries[ctx.queries], alignment)
    ranked = rank_documents(doc_vecs, qvecs, ctx.depth, ctx.docs)
    qrels = [emb.qrels[q] for q in ctx.queries]
    run = evaluate_run(ranked.ids, qrels, emb.doc_modality, ctx.k, ranked.scores)
    run["lambda"] = lambda_to_json(alignment.lambda_)  # `auto`'s chosen shrinkage, else None
    return run


def _rows(x: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if x is None else x[rows]
