"""Recall@k of approximate neighbours against exact ones, per query and on average: what the
search-parameter tuner (`mixsearch.tune`) and a filter partition's nprobe tuner
(`mixsearch.store.partition_nprobe`) both measure. Ids are FAISS ids, -1 padded."""

from __future__ import annotations

import numpy as np


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each query's true top-k present in its returned top-k."""
    per_query = per_query_recall(found, truth)
    return float(per_query.mean()) if len(per_query) else 1.0


def per_query_recall(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each query's fraction of its true top-k present in its returned top-k [Q]."""
    return np.array(
        [
            len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) / max(1, int((t >= 0).sum()))
            for f, t in zip(found, truth, strict=True)
        ],
        dtype=np.float64,
    )
