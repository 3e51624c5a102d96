"""The nprobe a filter partition needs, tuned when it is built.

A partition (`filter_partitions`) must keep filtered recall@10 ≥ 0.95 against exact search over
the filter's documents. Its queries are unknown at build, so, as `mixsearch.tune` does without a
query log, held-out queries are made from stored documents, perturbed: half from *outside* the
filter — queries that sit away from its documents, the hard case a filter anti-correlated with
the queries makes (text queries, image documents) — and half from inside. The nprobe chosen is
the smallest whose recall@10 reaches TUNE_AIM on both halves, scanning 1, 2, 3, 5, 8, … nlist.
With 8-bit codes the recall counted is that of the candidates re-scored exactly, as searches
are (`FilterPartition.candidates`), and when even a scan of every list misses TUNE_AIM the aim
is just below what that scan reaches (at 100k with nlist = 4·√count the 8-bit partition's
candidates reached 0.992 at best, and aiming at 0.99 scanned all 800 lists: 5 ms a query).
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from mixsearch.knn_recall import recall_at_k
from mixsearch.vectors import l2_normalize

TUNE_QUERIES = 200  # half outside the filter, half inside
TUNE_NOISE = 0.2  # as `mixsearch.tune.DEFAULT_NOISE`
TUNE_K = 10
# The goal is recall 0.95; perturbed documents are easier queries than real ones. Aiming halfway
# to 1 (0.975, as `mixsearch.tune` does) was not enough: on the noisy queries of
# tests/store/test_filter_partitions.py it gave nprobe 6 and recall 0.936; aiming at 0.99 gives
# nprobe 12 and 0.978 there, and costs little where queries are nearer the documents.
TUNE_AIM = 0.99
CEILING_SLACK = 0.005  # below the recall of a scan of every list, when that misses TUNE_AIM
EXACT_CHUNK_ROWS = 65_536  # documents scored at a time for the ground truth


def ivf_params(nprobe: int) -> Any:
    params = faiss.SearchParametersIVF()
    params.nprobe = nprobe
    return params


def tuned_nprobe(
    index: faiss.IndexIVF, vectors: np.ndarray, ids: np.ndarray, outside: np.ndarray, wanted: int
) -> int:
    """The smallest nprobe reaching TUNE_AIM on both halves of the held-out queries, for an
    index over ``vectors`` labelled with the sorted ``ids``; ``outside``: vectors of documents
    the filter leaves out; ``wanted``: candidates fetched per hit (re-scored exactly when > 1)."""
    rng = np.random.default_rng(1)
    half = TUNE_QUERIES // 2
    inside = vectors[rng.choice(len(vectors), min(half, len(vectors)), replace=False)]
    groups = [_perturbed(g, rng) for g in (outside[:half], inside) if len(g)]
    truths = [exact_ids(q, vectors, ids) for q in groups]

    def reached(nprobe: int) -> float:
        found = [_search(index, q, nprobe, vectors, ids, wanted) for q in groups]
        return min(recall_at_k(f, t) for f, t in zip(found, truths, strict=True))

    # 8-bit codes may stop short of the aim even scanning every list: aim just below that then,
    # rather than scanning every list for the last few hundredths
    aim = min(TUNE_AIM, reached(index.nlist) - CEILING_SLACK)
    nprobe = 1
    while nprobe < index.nlist and reached(nprobe) < aim:
        nprobe = max(nprobe + 1, round(nprobe * 1.5))
    return min(nprobe, index.nlist)


def _search(
    index: faiss.IndexIVF,
    queries: np.ndarray,
    nprobe: int,
    vectors: np.ndarray,
    ids: np.ndarray,
    wanted: int,
) -> np.ndarray:
    """Top TUNE_K ids as a search returns them: ``wanted``·k candidates re-scored exactly."""
    found = index.search(queries, wanted * TUNE_K, params=ivf_params(nprobe))[1]
    if wanted == 1:
        return found
    rows = np.searchsorted(ids, found).clip(max=len(ids) - 1)
    scores = np.einsum("qd,qkd->qk", queries, vectors[rows])
    scores[found < 0] = -np.inf
    best = np.argsort(-scores, axis=1)[:, :TUNE_K]
    return np.take_along_axis(found, best, axis=1)


def _perturbed(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = rows + rng.normal(scale=TUNE_NOISE / np.sqrt(rows.shape[1]), size=rows.shape)
    return np.ascontiguousarray(l2_normalize(noisy))


def exact_ids(queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Exact inner-product top TUNE_K ids, chunk by chunk (numpy's BLAS product: faiss.knn
    took 4× longer for 100 queries over 40k × 512 on the benchmark machine)."""
    k = min(TUNE_K, len(vectors))
    best_scores = np.full((len(queries), 0), -np.inf, np.float32)
    best_ids = np.full((len(queries), 0), -1, np.int64)
    for start in range(0, len(vectors), EXACT_CHUNK_ROWS):
        chunk = slice(start, start + EXACT_CHUNK_ROWS)
        scores = np.concatenate([best_scores, queries @ vectors[chunk].T], axis=1)
        chunk_ids = np.broadcast_to(ids[chunk], (len(queries), len(ids[chunk])))
        labels = np.concatenate([best_ids, chunk_ids], axis=1)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(scores, top, axis=1)
        best_ids = np.take_along_axis(labels, top, axis=1)
    return best_ids
