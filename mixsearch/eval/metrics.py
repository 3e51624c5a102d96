"""Ranking metrics for retrieval evaluation: nDCG@k, Recall@1/@k, MRR, per-modality breakdowns.

Inputs are plain Python/numpy: for each query, the ranked document ids (best first) and its qrels,
a mapping ``doc id -> graded relevance`` (grade > 0 means relevant). Document ids may be ints (row
indices) or strings; they only need to match between rankings, qrels and ``doc_modality``.

Definitions (linear gains, as scikit-learn's ``ndcg_score`` and MixBench use):

- nDCG@k is MixBench's exactly (the authors' ``retrieval_mixbench.py``): scikit-learn's
  ``ndcg_score([grades of the retrieved top k], [their scores], k=k)``. So DCG@k =
  Σ_{r=1..k} grade(doc at r) / log2(r + 1), where documents with *equal scores* share the mean
  gain of their tie group (``ndcg_score``'s tie averaging), and the ideal DCG is that of the
  retrieved top k's own grades sorted — relevant documents that were not retrieved do not count
  (``ideal="judged"`` gives the textbook variant that counts every judged document). With one
  relevant document, both are 1 / log2(rank + 1) inside the top k, else 0.
- Recall@k = share of the query's relevant documents found in the top k (one relevant ⇒ hit or miss).
- MRR = 1 / rank of the first relevant document in the ranking given (0 when absent), so it is
  MRR@depth where depth is the ranking's length.

Per-modality breakdowns group queries by the modality of their relevant document (the one with
the highest grade; ties broken by the smallest rank in the qrels' iteration order), answering
"how well do we find documents of this kind?". Top-k modality shares are the share of the top-k
slots taken by each modality, averaged over queries: the bias a modality gap causes shows up here.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from mixsearch.documents import Modality
from mixsearch.errors import BadInputError

Qrels = Mapping[Hashable, float]
MODALITY_LABELS = tuple(m.label for m in Modality)


def ndcg_at_k(
    ranked: Sequence[Hashable],
    qrels: Qrels,
    k: int = 10,
    scores: Sequence[float] | None = None,
    ideal: str = "retrieved",
) -> float:
    """nDCG@k of one ranking (0.0 when nothing relevant is retrieved / judged).

    ``scores`` (the ranking's similarities, best first) make tied documents share their gain;
    without them every position is distinct. ``ideal``: ``"retrieved"`` (MixBench, sklearn on the
    top k) or ``"judged"`` (every judged document).
    """
    if ideal not in ("retrieved", "judged"):
        raise BadInputError(f"ideal must be 'retrieved' or 'judged', got {ideal!r}")
    top = list(ranked)[:k]
    top_gains = [max(float(qrels.get(d, 0.0)), 0.0) for d in top]
    if not any(top_gains):  # nothing relevant retrieved: DCG is 0 whatever the ideal (fast path)
        return 0.0
    gains = np.array(top_gains)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    if ideal == "retrieved":
        ideal_gains = np.sort(gains)[::-1]
    elif ideal == "judged":
        ideal_gains = np.array(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    idcg = float(np.sum(ideal_gains * discounts[: len(ideal_gains)]))
    if idcg <= 0:
        return 0.0
    if scores is not None:
        top_scores = np.asarray(list(scores)[: len(gains)], dtype=float)
        if not np.all(top_scores[:-1] > top_scores[1:]):  # strictly falling: no ties to share
            gains = tie_averaged(gains, top_scores)
    return float(np.sum(gains * discounts[: len(gains)])) / idcg


def tie_averaged(gains: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each gain replaced by the mean gain of its group of equal scores (ranked best first), as
    scikit-learn's ``ndcg_score`` (``ignore_ties=False``) counts ties."""
    order = np.argsort(-scores, kind="stable")
    gains, scores = gains[order], scores[order]
    _, group, counts = np.unique(-scores, return_inverse=True, return_counts=True)
    sums = np.zeros(len(counts))
    np.add.at(sums, group, gains)
    return (sums / counts)[group]


def recall_at_k(ranked: Sequence[Hashable], qrels: Qrels, k: int) -> float:
    """Share of the relevant documents (grade > 0) that appear in the top k."""
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(list(ranked)[:k])) / len(relevant)


def reciprocal_rank(ranked: Sequence[Hashable], qrels: Qrels) -> float:
    """1 / rank of the first relevant document; 0.0 when none is in the ranking."""
    for rank, doc in enumerate(ranked, start=1):
        if qrels.get(doc, 0.0) > 0:
            return 1.0 / rank
    return 0.0


def per_query_metrics(
    rankings: Sequence[Sequence[Hashable]],
    qrels: Sequence[Qrels],
    k: int = 10,
    scores: Sequence[Sequence[float]] | None = None,
) -> dict[str, np.ndarray]:
    """Arrays [Q] of nDCG@k (MixBench's, tie-averaged when ``scores`` are given), Recall@1,
    Recall@k and reciprocal rank, one entry per query."""
    if len(rankings) != len(qrels):
        raise BadInputError(f"{len(rankings)} rankings but qrels for {len(qrels)} queries")
    score_rows = scores if scores is not None else [None] * len(rankings)
    triples = list(zip(rankings, qrels, score_rows, strict=True))
    return {
        f"ndcg@{k}": np.array([ndcg_at_k(r, q, k, s) for r, q, s in triples]),
        "recall@1": np.array([recall_at_k(r, q, 1) for r, q, _ in triples]),
        f"recall@{k}": np.array([recall_at_k(r, q, k) for r, q, _ in triples]),
        "mrr": np.array([reciprocal_rank(r, q) for r, q, _ in triples]),
    }


def relevant_modality(qrels: Qrels, doc_modality: Mapping[Hashable, int]) -> int | None:
    """Modality code of the query's most relevant document (None when nothing is relevant)."""
    best = max(qrels.items(), key=lambda item: item[1], default=None)
    if best is None or best[1] <= 0:
        return None
    return int(doc_modality[best[0]])


def topk_modality_shares(
    rankings: Sequence[Sequence[Hashable]], doc_modality: Mapping[Hashable, int], k: int = 10
) -> dict[str, float]:
    """Share of the top-k slots held by each modality, pooled over queries (sums to 1)."""
    counts = np.zeros(len(Modality))
    for ranked in rankings:
        for doc in list(ranked)[:k]:
            counts[int(doc_modality[doc])] += 1
    total = counts.sum()
    shares = counts / total if total else counts
    return {label: float(s) for label, s in zip(MODALITY_LABELS, shares, strict=True)}


def evaluate_rankings(
    rankings: Sequence[Sequence[Hashable]],
    qrels: Sequence[Qrels],
    doc_modality: Mapping[Hashable, int] | None = None,
    k: int = 10,
) -> dict[str, Any]:
    """All metrics for one run: means over queries, a per-modality breakdown and top-k shares.

    ``doc_modality`` maps doc id -> `Modality` code; a sequence/array works for integer ids.
    Without it only the overall metrics are returned.
    """
    per_query = per_query_metrics(rankings, qrels, k)
    result: dict[str, Any] = {"k": k, "n_queries": len(rankings)}
    result.update(mean_metrics(per_query))
    if doc_modality is not None:
        groups = np.array(
            [_group_code(relevant_modality(q, doc_modality)) for q in qrels], dtype=int
        )
        result["by_modality"] = by_modality(per_query, groups)
        result[f"top{k}_share"] = topk_modality_shares(rankings, doc_modality, k)
    return result


def mean_metrics(per_query: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Mean of each per-query metric array (0.0 for no queries)."""
    return {name: float(v.mean()) if len(v) else 0.0 for name, v in per_query.items()}


def by_modality(
    per_query: Mapping[str, np.ndarray], relevant_modalities: np.ndarray
) -> dict[str, dict[str, float]]:
    """Mean metrics over the queries whose relevant document has each modality (-1 = none)."""
    out: dict[str, dict[str, float]] = {}
    for code, label in enumerate(MODALITY_LABELS):
        mask = relevant_modalities == code
        entry: dict[str, float] = {"n_queries": int(mask.sum())}
        entry.update(mean_metrics({n: v[mask] for n, v in per_query.items()}))
        out[label] = entry
    return out


def _group_code(code: int | None) -> int:
    return -1 if code is None else code
