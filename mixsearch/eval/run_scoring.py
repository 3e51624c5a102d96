"""Scoring one benchmark run: rank as the engine ranks, then metrics with their uncertainty.

`rank_documents` ranks document vectors with the store's own Flat FAISS index, so ties fall the
way the engine's do; `evaluate_run` turns rankings into per-query metrics, each query's relevant
modality and top-k modality shares; `summarize_runs` reduces a headline run and its refits to the
reported means, ``fit_sd`` over refits and a query-bootstrap ``ci95`` (``mixsearch.eval.embeddings``
says what each means). The embeddings benchmark and the model-upgrade benchmark share them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixsearch.eval.metrics import (
    by_modality,
    mean_metrics,
    per_query_metrics,
    relevant_modality,
    topk_modality_shares,
)


def rank_documents(
    doc_vectors: np.ndarray,
    query_vecs: np.ndarray,
    depth: int,
    doc_indices: np.ndarray | None = None,
) -> Rankings:
    """Rank as the engine ranks an unfiltered Flat store: the store's own FAISS index
    (`mixsearch.store.index_spec.build_index`), float32 unit vectors, top ``depth`` best first.

    ``doc_indices`` label the rows (default 0..N-1). Document and query vectors arrive unit-length
    (`mixsearch.fusion`), so a store would keep them as they are; a real `Store` per run only
    added SQLite commits and fsyncs (most of a benchmark's time). The index is the store's, not a
    numpy product, because FAISS orders tied scores its own way (documents with identical vectors
    tie exactly) and recall@1 and MRR depend on that order; ``tests/eval/test_rank_documents.py``
    checks ids and scores against a real store, ties included.
    """
    from mixsearch.store.index_spec import build_index

    if doc_indices is None:
        doc_indices = np.arange(len(doc_vectors))
    vectors = np.ascontiguousarray(doc_vectors, dtype=np.float32)
    queries = np.ascontiguousarray(query_vecs, dtype=np.float32)
    index = build_index("Flat", vectors.shape[1], vectors).index
    index.add_with_ids(vectors, np.asarray(doc_indices, dtype=np.int64))
    scores, ids = index.search(queries, min(depth, len(vectors)))
    return Rankings(ids.tolist(), scores.tolist())


@dataclass
class Rankings:
    """Per query: document indices best first, and their scores (ties share nDCG gain)."""

    ids: list[list[int]]
    scores: list[list[float]]


# ---------------------------------------------------------------------------------------------


def evaluate_run(
    rankings: Sequence[Sequence[int]],
    qrels: Sequence[Mapping[Hashable, float]],
    doc_modality: Any,
    k: int,
    scores: Sequence[Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Per-query metric arrays, each query's relevant modality, and top-k modality shares."""
    return {
        "per_query": per_query_metrics(rankings, qrels, k, scores),
        "relevant_modality": np.array(
            [_code(relevant_modality(q, doc_modality)) for q in qrels], dtype=int
        ),
        "top_share": topk_modality_shares(rankings, doc_modality, k),
    }


def _code(code: int | None) -> int:
    return -1 if code is None else code


def summarize_runs(
    headline: Mapping[str, Any],
    refits: Sequence[Mapping[str, Any]],
    k: int,
    bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """Headline means, ``fit_sd`` over refits, query-bootstrap ``ci95``, breakdowns."""
    per_query = headline["per_query"]
    out: dict[str, Any] = dict(mean_metrics(per_query))
    out["fit_sd"] = {
        name: float(np.std([mean_metrics(r["per_query"])[name] for r in refits])) if refits else 0.0
        for name in per_query
    }
    out["n_refits"] = len(refits)
    out["ci95"] = _bootstrap_ci(per_query, bootstrap, seed)
    out["by_modality"] = by_modality(per_query, headline["relevant_modality"])
    out[f"top{k}_share"] = headline["top_share"]
    if headline.get("lambda") is not None:
        out["lambda"] = headline["lambda"]
        out["refit_lambdas"] = [r.get("lambda") for r in refits]
    return out


def _bootstrap_ci(
    per_query: Mapping[str, np.ndarray], resamples: int, seed: int
) -> dict[str, list[float]]:
    """Percentile 95% interval of each mean under resampling of the test queries."""
    if resamples < 1:
        return {}
    rng = np.random.default_rng(seed)
    n = len(next(iter(per_query.values())))
    picks = rng.integers(0, n, size=(resamples, n))
    return {
        name: [
            float(np.percentile(v[picks].mean(axis=1), 2.5)),
            float(np.percentile(v[picks].mean(axis=1), 97.5)),
        ]
        for name, v in per_query.items()
    }
