"""The ranking layer: query vectors in, top-k `Hit`s out, over a `Store`.

Steps: (1) metadata/modality filters resolve to a set of allowed FAISS ids, once per filter and
committed generation (`mixsearch.store.filters`); (2) the planner (`mixsearch.store.planner`)
scores a small filter's documents exactly, and otherwise runs one batched FAISS search
restricted to the allowed ids inside FAISS, its nprobe/efSearch widened with the filter's
selectivity so recall holds; (3) with a lossy index (PQ) or ``rescore=True`` the k' = 4k
candidates are re-scored exactly from the stored vectors; (4) the top k of each query are
resolved to records with one SQLite query for the whole batch, metadata decoded only when read.
Per-call work beyond FAISS is proportional to the k' candidates, never to the corpus.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from mixsearch.documents import Modality
from mixsearch.errors import MixsearchError
from mixsearch.store import Store
from mixsearch.store.filters import ResolvedFilter
from mixsearch.store.index_spec import check_search_params
from mixsearch.store.planner import Plan, plan_filtered

MODALITIES = tuple(Modality)  # code → Modality without the enum call's overhead

SNIPPET_CHARS = 200
RESCORE_CANDIDATE_FACTOR = 4


class Hit:
    """One ranked document. ``metadata`` is decoded from its stored JSON on first access: most
    callers print a few fields of a few hits, and decoding every hit's costs per query."""

    __slots__ = ("_metadata", "doc_id", "image_path", "modality", "rank", "score", "text")

    def __init__(
        self,
        doc_id: str,
        score: float,
        modality: Modality,
        text: str | None,  # snippet of at most SNIPPET_CHARS characters
        image_path: str | None,
        metadata: dict[str, Any] | str,  # a dict, or its JSON text (decoded lazily)
        rank: int,  # 1-based
    ) -> None:
        self.doc_id = doc_id
        self.score = score
        self.modality = modality
        self.text = text
        self.image_path = image_path
        self._metadata = metadata
        self.rank = rank

    @property
    def metadata(self) -> dict[str, Any]:
        if isinstance(self._metadata, str):
            self._metadata = {} if self._metadata == "{}" else json.loads(self._metadata)
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._metadata = value

    def _fields(self) -> tuple:
        return (
            self.doc_id,
            self.score,
            self.modality,
            self.text,
            self.image_path,
            self.metadata,
            self.rank,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hit) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return (
            f"Hit(doc_id={self.doc_id!r}, score={self.score!r}, modality={self.modality!r}, "
            f"text={self.text!r}, image_path={self.image_path!r}, metadata={self.metadata!r}, "
            f"rank={self.rank!r})"
        )

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
        scores, ids = store.search(q, k_prime, params=plan.params, allowed_ids=resolved)
    if rescoring:
        scores, ids = rescore_exact(store, q, ids)
    return scores[:, :k], ids[:, :k]


def filter_plan(store: Store, resolved: ResolvedFilter, k: int, params: dict | None = None) -> Plan:
    """How a filtered search of ``k`` candidates runs (exact, or ANN with widened params)."""
    base = store.search_params if params is None else check_search_params(params)
    total = store.index.ntotal if store.index is not None else 0
    return plan_filtered(store.traits, total, resolved.count, store.dim, k, base)


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
    id_rows = ids.tolist()
    rows = store.hit_rows({fid for row in id_rows for fid in row if fid >= 0})
    results: list[list[Hit]] = []
    for row_scores, row_ids in zip(scores.tolist(), id_rows, strict=True):
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
                    text if text is None or len(text) <= SNIPPET_CHARS else _snippet(text),
                    image_path,
                    metadata,
                    len(hits) + 1,
                )
            )
        results.append(hits)
    return results


def _snippet(text: str | None) -> str | None:
    if text is None or len(text) <= SNIPPET_CHARS:
        return text
    return text[: SNIPPET_CHARS - 1] + "…"
