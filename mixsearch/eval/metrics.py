"""Ranking metrics for retrieval evaluation: nDCG@k, Recall@1/@k, MRR, per-modality breakdowns.

Inputs are plain Python/numpy: for each query, the ranked document ids (best first) and its qrels,
a mapping ``doc id -> graded relevance`` (grade > 0 means relevant). Document ids may be ints (row
indices) or strings; they only need to match between rankings, qrels and ``doc_modality``.

Definitions (linear gains, as scikit-learn's ``ndcg_score`` and MixBench use):

- nDCG@k = DCG@k / IDCG@k with DCG@k = Σ_{r=1..k} grade(doc at r) / log2(r + 1) and IDCG@k the DCG
  of the ideal ordering of *all* the query's judged documents. With one relevant document this is
  1 / log2(rank + 1) when it lies inside the top k, else 0.
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


def ndcg_at_k(ranked: Sequence[Hashable], qrels: Qrels, k: int = 10) -> float:
    """nDCG@k of one ranking against graded qrels (0.0 when the query has no relevant document)."""
    ideal_grades = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    if not ideal_grades:
        return 0.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    gains = np.array([float(qrels.get(d, 0.0)) for d in list(ranked)[:k]])
    gains = np.clip(gains, 0.0, None)  # negative grades (if any) count as irrelevant
    dcg = float(np.sum(gains * discounts[: len(gains)]))
    idcg = float(np.sum(np.array(ideal_grades) * discounts[: len(ideal_grades)]))
    return dcg / idcg


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
    rankings: Sequence[Sequence[Hashable]], qrels: Sequence[Qrels], k: int = 10
) -> dict[str, np.ndarray]:
    """Arrays [Q] of nDCG@k, Recall@1, Recall@k and reciprocal rank, one entry per query."""
    if len(rankings) != len(qrels):
        raise BadInputError(f"{len(rankings)} rankings but qrels for {len(qrels)} queries")
    return {
        f"ndcg@{k}": np.array([ndcg_at_k(r, q, k) for r, q in zip(rankings, qrels, strict=True)]),
        "recall@1": np.array([recall_at_k(r, q, 1) for r, q in zip(rankings, qrels, strict=True)]),
        f"recall@{k}": np.array(
            [recall_at_k(r, q, k) for r, q in zip(rankings, qrels, strict=True)]
        ),
        "mrr": np.array([reciprocal_rank(r, q) for r, q in zip(rankings, qrels, strict=True)]),
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
