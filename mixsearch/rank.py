"""The ranking layer: query vectors in, top-k `Hit`s out, over a `Store`.

Steps: (1) metadata/modality filters resolve to a set of allowed FAISS ids, once per filter and
committed generation (`mixsearch.store.filters`); (2) the planner (`mixsearch.store.planner`)
scores a small filter's documents exactly, searches the filter's own partition on a graph store
once one is built (`mixsearch.store.filter_partitions`), and otherwise runs one batched FAISS
search restricted to the allowed ids inside FAISS, its nprobe/efSearch widened with the
filter's selectivity so recall holds; (3) with a lossy index (PQ) or ``rescore=True`` the k' = 4k
candidates are re-scored exactly from the stored vectors; (4) the top k of each query become
`Hit`s through the store's hit lookup (`Store.hits`: the in-memory hit table, or one SQLite
query for the batch), their text and metadata decoded only when read. An unfiltered search of
an exact or graph index skips steps 1–3: one FAISS call, then the hits.
Per-call work beyond FAISS is proportional to the k' candidates, never to the corpus.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mixsearch.errors import MixsearchError
from mixsearch.hit import SNIPPET_CHARS, Hit
from mixsearch.store import Store
from mixsearch.store.filters import ResolvedFilter
from mixsearch.store.index_spec import check_search_params
from mixsearch.store.planner import Plan, plan_filtered

RESCORE_CANDIDATE_FACTOR = 4

__all__ = ["SNIPPET_CHARS", "Hit", "exact_top_k", "filter_plan", "hits_for", "rank", "top_k"]


def rank(
    store: Store,
    query_vectors: np.ndarray,
    k: int = 10,
    *,
    modality: Any = None,
    where: dict | None = None,
    candidates: int | None = None,
    rescore: bool = False,
    params: dict | None = None,
) -> list[list[Hit]]:
    """Top-k hits for each query vector (rows of ``query_vectors``, or one 1-d vector).

    ``modality``: a Modality/name or a list of them; ``where``: metadata conditions as in
    `Store.filter_ids`; ``candidates``: how many FAISS candidates to fetch (default k, or 4k when
    re-scoring); ``params``: FAISS search parameters (default: the store's tuned ones).
    """
    common = modality is None and not where and candidates is None and not rescore
    if common and type(k) is int and k >= 1 and not store.is_lossy:
        # the common search in one short path: FAISS's top k, their hits (a bad k, or any
        # other search, goes through `top_k`, which checks it)
        return store.search_hits(query_vectors, k, params=params)
    scores, ids = top_k(
        store,
        query_vectors,
        k,
        modality=modality,
        where=where,
        candidates=candidates,
        rescore=rescore,
        params=params,
    )
    return hits_for(store, scores, ids)


def top_k(
    store: Store,
    query_vectors: np.ndarray,
    k: int,
    *,
    modality: Any = None,
    where: dict | None = None,
    candidates: int | None = None,
    rescore: bool = False,
    params: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores [Q, k], faiss_ids [Q, k], -1 padded): `rank` without resolving records."""
    _check_k(k)
    if candidates is not None and (not isinstance(candidates, int) or candidates < 1):
        raise MixsearchError(f"candidates must be a positive integer, got {candidates!r}")
    q = store.query_matrix(query_vectors)
    rescoring = (rescore or store.is_lossy) and not store.is_exact
    k_prime = max(k, candidates or (RESCORE_CANDIDATE_FACTOR * k if rescoring else k))
    if modality is None and not where:
        scores, ids = store.search(q, k_prime, params=params)
    else:
        resolved = store.resolve_filter(modality=modality, where=where)
        if resolved.count == 0:
            return _empty(len(q), k)
        plan = filter_plan(store, resolved, k_prime, params)
        if plan.exact:
            exact_ids, vectors = store.filter_vectors(resolved)
            return exact_top_k(q, vectors, exact_ids, k)
        if plan.method == "partition" and plan.partition is not None:
            part = plan.partition
            rescoring = rescoring or part.lossy
            scores, ids = part.search(q, part.candidates(k_prime))
        else:
            scores, ids = store.search(q, k_prime, params=plan.params, allowed_ids=resolved)
    if rescoring:
        scores, ids = rescore_exact(store, q, ids)
    return scores[:, :k], ids[:, :k]


def _check_k(k: Any) -> None:
    if not isinstance(k, int) or k < 1:
        raise MixsearchError(f"k must be a positive integer, got {k!r}")


def filter_plan(store: Store, resolved: ResolvedFilter, k: int, params: dict | None = None) -> Plan:
    """How a filtered search of ``k`` candidates runs: exact, ANN with widened params, or — on a
    graph store, once built — the filter's partition (`Store.filter_partition`)."""
    base = store.search_params if params is None else check_search_params(params)
    total = store.index.ntotal if store.index is not None else 0
    plan = plan_filtered(store.traits, total, resolved.count, store.dim, k, base)
    if plan.exact or not store.traits.hnsw:
        return plan
    partition = store.filter_partition(resolved)
    if partition is None:
        return plan
    return plan_filtered(store.traits, total, resolved.count, store.dim, k, base, partition)


def exact_top_k(
    queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force inner-product top-k of ``queries`` over ``vectors`` labelled ``ids``."""
    scores = queries @ vectors.T
    return _sorted_top(scores, np.broadcast_to(ids, scores.shape), k)


def rescore_exact(
    store: Store, queries: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Replace approximate candidate scores by exact ones from the stored vectors, re-sorted;
    a candidate another process removed since the index was loaded drops out."""
    valid = ids >= 0
    unique = np.unique(ids[valid])
    present, vectors = store.present_vectors(unique)  # sorted, as unique is
    if not len(present):
        return _empty(*ids.shape)
    rows = np.searchsorted(present, ids).clip(max=len(present) - 1)
    found = valid & (present[rows] == ids)
    scores = np.einsum("qd,qkd->qk", queries, vectors[rows])
    scores[~found] = -np.inf
    return _sorted_top(scores, ids, ids.shape[1])


def _sorted_top(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n_q, n = scores.shape
    take = min(k, n)
    if take < n:
        part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    else:
        part = np.broadcast_to(np.arange(n), (n_q, n))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    out_scores, out_ids = _empty(n_q, k)
    out_scores[:, :take] = np.take_along_axis(scores, top, axis=1)
    out_ids[:, :take] = np.take_along_axis(ids, top, axis=1)
    out_ids[~np.isfinite(out_scores)] = -1
    return out_scores, out_ids


def _empty(n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n_queries, k), -np.inf, np.float32), np.full((n_queries, k), -1, np.int64)


def hits_for(store: Store, scores: np.ndarray, ids: np.ndarray) -> list[list[Hit]]:
    """Resolve a batch of (scores, ids) to Hits with one lookup (`Store.hits`)."""
    return store.hits(scores, ids)
