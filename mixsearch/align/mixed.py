"""Held-out scoring the way the engine ranks: one text query against a *mixed* gallery.

For a held-out set of pairs (image xᵢ, text yᵢ), mapped as the engine stores them, the text yᵢ is
the query and the gallery holds every held-out image (source side), the *other* held-out texts
(target side) and — when the fit pairs stand for image+text documents — their fused documents
normalise(α·text + (1−α)·image) (`fuse`, the rule `mixsearch.fusion` applies to documents). The
score is the rank of the query's own image: a map that leaves images far from texts (a modality
gap, or a rotation between the spaces) lets texts and fused documents crowd the image out of the
top, even when images are ranked well among themselves. Ranking images among themselves (pair
retrieval, `mixsearch.align.retrieval`) cannot see that; it is kept as a diagnostic.

Ranks are "strictly better only" (ties do not push the own image down); metrics are the mean
reciprocal rank (the primary one: it uses every rank, so small held-out galleries still separate
maps), nDCG@10 with one relevant item (1/log2(rank + 2) inside the top 10) and the share of each
kind (image, text, image+text) among the top 10 — the modality mix a user would see.
"""

from __future__ import annotations

import numpy as np

from mixsearch.vectors import normalize_rows

DEFAULT_ALPHA = (
    0.5  # the store default (mixsearch.settings.DEFAULT_ALPHA; align imports no settings)
)
TOP_K = 10
KINDS = ("image", "text", "image+text")
QUERY_CHUNK = 1024


def fuse(text: np.ndarray, image: np.ndarray, alpha: float) -> np.ndarray:
    """α·text + (1−α)·image, rows after each side's transform (normalise afterwards)."""
    return alpha * text + (1.0 - alpha) * image


def mixed_ranks(
    queries: np.ndarray,
    images: np.ndarray,
    texts: np.ndarray,
    fused: np.ndarray | None = None,
    k: int = TOP_K,
    own: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For query i with own item ``own[i]`` (default i): the rank of that item's image among all
    images, the texts and fused documents of the *other* items; the count of each kind among
    the top ``k`` ([Q, 3]); and the rank of the image among the images only (pair retrieval).
    Rows are normalised here. Several queries may share an item (captions of one photo)."""
    q, parts = normalize_rows(queries), [normalize_rows(images), normalize_rows(texts)]
    if fused is not None:
        parts.append(normalize_rows(fused))
    own = np.arange(len(q)) if own is None else np.asarray(own)
    n = len(q)
    ranks = np.empty(n, dtype=np.int64)
    pair = np.empty(n, dtype=np.int64)
    counts = np.zeros((n, len(KINDS)), dtype=np.int64)
    for start in range(0, n, QUERY_CHUNK):
        rows = np.arange(start, min(start + QUERY_CHUNK, n))
        local, items = np.arange(len(rows)), own[rows]
        sims = [q[rows] @ p.T for p in parts]
        for s in sims[1:]:
            s[local, items] = -np.inf  # the query's own item as a text / fused document
        target = sims[0][local, items]
        better = [(s > target[:, None]).sum(axis=1) for s in sims]
        ranks[rows], pair[rows] = sum(better), better[0]
        counts[rows] = _top_counts(np.concatenate(sims, axis=1), [p.shape[0] for p in parts], k)
    return ranks, counts, pair


def _top_counts(sims: np.ndarray, sizes: list[int], k: int) -> np.ndarray:
    k = min(k, sims.shape[1])
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    kind = np.searchsorted(np.cumsum(sizes), top, side="right")
    out = np.zeros((len(sims), len(KINDS)), dtype=np.int64)
    for code in range(len(sizes)):
        out[:, code] = (kind == code).sum(axis=1)
    return out


def ranking_metrics(ranks: np.ndarray, k: int = TOP_K) -> dict[str, float]:
    """MRR, nDCG@k and R@k of one relevant item at 0-based ``ranks``."""
    ndcg = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return {
        "MRR": float(np.mean(1.0 / (ranks + 1.0))),
        f"nDCG@{k}": float(np.mean(ndcg)),
        f"R@{k}": float(np.mean(ranks < k)),
    }


def heldout_scores(
    queries: np.ndarray,
    images: np.ndarray,
    texts: np.ndarray,
    alpha: float | None,
    k: int = TOP_K,
    own: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """Both objectives on one held-out set, rows as mapped by one alignment: ``images``/``texts``
    one row per item, ``queries`` [Q] with their item ``own`` (default: query i is item i).

    ``alpha=None`` leaves fused documents out (fit pairs that are not image+text documents).
    """
    images, texts = normalize_rows(images), normalize_rows(texts)
    fused = None if alpha is None else fuse(texts, images, alpha)
    ranks, counts, pairs = mixed_ranks(queries, images, texts, fused, k, own)
    shares = counts.sum(axis=0) / max(int(counts.sum()), 1)
    return {
        "mixed": ranking_metrics(ranks, k),
        "pairs": {
            "R@1": float(np.mean(pairs < 1)),
            "MRR": float(np.mean(1.0 / (pairs + 1.0))),
        },
        "top_share": {kind: float(s) for kind, s in zip(KINDS, shares, strict=True)},
    }
