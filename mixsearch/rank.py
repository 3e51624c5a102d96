"""The ranking layer: query vectors in, top-k `Hit`s out, over a `Store`.

Steps: (1) metadata/modality filters become a set of allowed FAISS ids (SQLite); (2) candidates
come from one batched FAISS search restricted to those ids inside FAISS — or, when the filter
leaves only a few ids on an approximate index (where a restricted graph/IVF search can miss them),
from exact scoring of their stored vectors; (3) with a lossy index (PQ) or ``rescore=True`` the
k' = 4k candidates are re-scored exactly from the stored vectors; (4) the top k of each query are
resolved to records with one SQLite query for the whole batch. Per-call work beyond FAISS is
proportional to the k' candidates, never to the corpus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixsearch.documents import Modality
from mixsearch.errors import MixsearchError
from mixsearch.store import Store

MODALITIES = tuple(Modality)  # code → Modality without the enum call's overhead

SNIPPET_CHARS = 200
RESCORE_CANDIDATE_FACTOR = 4
EXACT_FILTER_LIMIT = 4096  # filters allowing at most this many ids are scored exactly


@dataclass
class Hit:
    doc_id: str
    score: float
    modality: Modality
    text: str | None  # snippet of at most SNIPPET_CHARS characters
    image_path: str | None
    metadata: dict[str, Any]
    rank: int  # 1-based

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "doc_id": self.doc_id,
            "score": self.score,
            "modality": self.modality.label,
            "text": self.text,
            "image_path": self.image_path,
            "metadata": self.metadata,
        }


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
    if not isinstance(k, int) or k < 1:
        raise MixsearchError(f"k must be a positive integer, got {k!r}")
    if candidates is not None and (not isinstance(candidates, int) or candidates < 1):
        raise MixsearchError(f"candidates must be a positive integer, got {candidates!r}")
    q = store.query_matrix(query_vectors)
    allowed = None
    if modality is not None or where:
        allowed = store.filter_ids(modality=modality, where=where)
        if len(allowed) == 0:
            return _empty(len(q), k)
    if allowed is not None and not store.is_exact and len(allowed) <= EXACT_FILTER_LIMIT:
        return exact_top_k(q, store.vectors_for(allowed), allowed, k)
    rescoring = (rescore or store.is_lossy) and not store.is_exact
    k_prime = max(k, candidates or (RESCORE_CANDIDATE_FACTOR * k if rescoring else k))
    scores, ids = store.search(q, k_prime, params=params, allowed_ids=allowed)
    if rescoring:
        scores, ids = rescore_exact(store, q, ids)
    return scores[:, :k], ids[:, :k]


def exact_top_k(
    queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force inner-product top-k of ``queries`` over ``vectors`` labelled ``ids``."""
    scores = queries @ vectors.T
    return _sorted_top(scores, np.broadcast_to(ids, scores.shape), k)


def rescore_exact(
    store: Store, queries: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Replace approximate candidate scores by exact ones from the stored vectors, re-sorted."""
    valid = ids >= 0
    unique = np.unique(ids[valid])
    if not len(unique):
        return _empty(*ids.shape)
    vectors = store.vectors_for(unique)
    rows = np.searchsorted(unique, np.where(valid, ids, unique[0]))
    scores = np.einsum("qd,qkd->qk", queries, vectors[rows])
    scores[~valid] = -np.inf
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
    """Resolve a batch of (scores, ids) to Hits with one SQLite query."""
    rows = store.hit_rows(np.unique(ids[ids >= 0]))
    results: list[list[Hit]] = []
    for row_scores, row_ids in zip(scores.tolist(), ids.tolist(), strict=True):
        hits: list[Hit] = []
        for score, fid in zip(row_scores, row_ids, strict=True):
            row = rows.get(fid)
            if row is None:  # -1 padding, or removed by another process since our snapshot
                continue
            doc_id, modality, text, image_path, metadata = row
            hits.append(
                Hit(
                    doc_id,
                    score,
                    MODALITIES[modality],
                    _snippet(text),
                    image_path,
                    {} if metadata == "{}" else json.loads(metadata),
                    len(hits) + 1,
                )
            )
        results.append(hits)
    return results


def _snippet(text: str | None) -> str | None:
    if text is None or len(text) <= SNIPPET_CHARS:
        return text
    return text[: SNIPPET_CHARS - 1] + "…"
