"""Held-out pair retrieval: query i should find gallery item i. Used to pick λ and to report."""

from __future__ import annotations

import numpy as np

from mixsearch.vectors import normalize_rows

QUERY_CHUNK = 2048  # bounds the similarity block to QUERY_CHUNK × gallery floats


def pair_ranks(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """0-based rank of the true partner of each query (rows already normalised)."""
    ranks = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), QUERY_CHUNK):
        q = queries[start : start + QUERY_CHUNK]
        sims = q @ gallery.T
        rows = np.arange(len(q))
        true = sims[rows, start + rows]
        # strictly better only: ties do not push the partner down (identical vectors tie)
        ranks[start : start + len(q)] = (sims > true[:, None]).sum(axis=1)
    return ranks


def pair_retrieval(
    queries: np.ndarray, gallery: np.ndarray, ks: tuple[int, ...] = (1, 10)
) -> dict[str, float]:
    """Recall@k and MRR of query i retrieving gallery row i, with cosine similarity."""
    ranks = pair_ranks(normalize_rows(queries), normalize_rows(gallery))
    out = {f"R@{k}": float(np.mean(ranks < k)) for k in ks}
    out["MRR"] = float(np.mean(1.0 / (ranks + 1.0)))
    return out
