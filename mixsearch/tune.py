"""Search-parameter tuning: the cheapest nprobe (IVF) or efSearch (HNSW) reaching a target recall.

Queries are sample queries when given (e.g. from a query log: the best guide); otherwise, as
autofaiss does, the corpus's own stored vectors, slightly perturbed (so a query is near, not equal
to, its source). Ground truth is exact inner-product search over all stored vectors. Recall is
measured through `mixsearch.rank.top_k` — the same path `rank` uses, including exact re-scoring
on lossy indexes — so the tuned value holds for what users actually run.

The rule: the tuner picks the smallest value whose *lower confidence bound* on recall reaches
the *aim*. Two margins, for two different errors:

* the aim corrects a known bias of the queries: held-out queries are easier than real ones, so
  without sample queries the aim is ``target + margin·(1 − target)`` (0.975 for a 0.95 target);
  given sample queries are taken as the real thing and the aim is the target itself;
* the bound corrects chance: a recall measured on a few hundred queries is an estimate (at 1M
  vectors, IVF4096, nprobe 1 measured 0.951 on 200 tuning queries and 0.938 on 500 others;
  RESULTS.md). Its standard error is ``std(per-query recall) / sqrt(Q)`` — per query, because the
  k neighbours of one query are found or missed together — and the bound is ``recall −
  z·SE`` with ``z`` the one-sided normal quantile of ``confidence`` (1.645 for 0.95): a value
  whose recall on the queries' source (the population they were drawn from) is below the aim
  passes with a chance of at most 1 − confidence.
"""

from __future__ import annotations

import time
from statistics import NormalDist
from typing import Any

import numpy as np

from mixsearch.errors import MixsearchError
from mixsearch.fusion import l2_normalize
from mixsearch.knn_recall import per_query_recall
from mixsearch.rank import exact_top_k, top_k
from mixsearch.store import Store
from mixsearch.store.index_spec import IndexTraits

# From k up: with the default efConstruction (128) a 100k graph reaches 0.95 near efSearch 12-16
# (RESULTS.md), so the ladder starts low; below k HNSW cannot return k hits.
EF_SEARCH_VALUES = (
    8,
    10,
    12,
    16,
    24,
    32,
    48,
    64,
    96,
    128,
    192,
    256,
    384,
    512,
    768,
    1024,
    1536,
    2048,
)
DEFAULT_NOISE = 0.2
# Perturbed corpus vectors are easier queries than real ones (text queries across the modality
# gap): measured 0.9525 on these vs 0.932 on real-like queries (HNSW32, 100k; RESULTS.md). So the
# tuner aims at target + margin·(1 − target), e.g. 0.975 for a 0.95 target.
DEFAULT_MARGIN = 0.5
# One-sided: a value whose recall on the queries' source is below the aim passes the bound at most
# 1 time in 20 (each value tried is one such test).
DEFAULT_CONFIDENCE = 0.95


def tune_search_params(
    store: Store,
    *,
    target_recall: float = 0.95,
    k: int = 10,
    n_queries: int = 200,
    seed: int = 0,
    noise: float = DEFAULT_NOISE,
    margin: float | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    queries: np.ndarray | None = None,
) -> dict[str, Any]:
    """Pick, store (`Store.set_search_params`) and return the smallest sufficient parameter:
    the smallest value whose lower confidence bound on recall reaches the aim (module docstring).

    ``queries``: sample query vectors in the store's space (after the query-side transform), e.g.
    from a query log — the best guide. Without them the tuner makes held-out queries from the
    stored vectors and, as those are easier, aims at ``target + margin·(1 − target)``
    (``margin`` defaults to DEFAULT_MARGIN then, to 0 with real queries). ``confidence``: how
    sure the bound is, one-sided (0.5 compares the measured recall itself with the aim).
    Returns ``{"params": {...}, "recall": r, "bound": b, "aim": a, "confidence": c,
    "reached": bool, "qps": q, "curve": [[v, r, b], ...], "queries": "given" | "held-out"}``
    (``bound``: recall − z·SE over the queries); ``reached`` is False when even the largest
    value tried has its bound below the aim (then that value is kept). Exact (Flat) or empty
    stores need no parameters: ``{"params": {}, "recall": 1.0}``.
    """
    if margin is None:
        margin = DEFAULT_MARGIN if queries is None else 0.0
    _check_rule(target_recall, margin, confidence)
    aim = target_recall + margin * (1.0 - target_recall)
    index = store.index
    if index is None or store.is_exact or len(store) == 0:
        store.set_search_params({})
        return {
            "params": {},
            "recall": 1.0,
            "bound": 1.0,
            "reached": True,
            "qps": None,
            "curve": [],
        }
    key, values = _parameter_values(store.traits, k)
    source = "held-out" if queries is None else "given"
    if queries is None:
        queries = held_out_queries(store, n_queries, seed=seed, noise=noise)
    else:
        queries = store.query_matrix(queries)
    truth = exact_neighbours(store, queries, k)
    z = NormalDist().inv_cdf(confidence)
    curve: dict[int, tuple[float, float]] = {}

    def bound_at(value: int) -> float:
        if value not in curve:
            _, ids = top_k(store, queries, k, params={key: value})
            curve[value] = recall_and_bound(per_query_recall(ids, truth), z)
        return curve[value][1]

    chosen = _smallest_reaching(values, bound_at, aim)
    qps = _queries_per_second(store, queries, k, {key: chosen})
    store.set_search_params({key: chosen})
    recall, bound = curve[chosen]
    return {
        "params": {key: chosen},
        "recall": recall,
        "bound": bound,
        "aim": aim,
        "confidence": confidence,
        "queries": source,
        "reached": bound >= aim,
        "qps": qps,
        "curve": [[v, *curve[v]] for v in sorted(curve)],
    }


def _check_rule(target_recall: float, margin: float, confidence: float) -> None:
    if not 0.0 < target_recall <= 1.0:
        raise MixsearchError(f"target recall must lie in (0, 1], got {target_recall}")
    if not 0.0 <= margin < 1.0:
        raise MixsearchError(f"margin must lie in [0, 1), got {margin}")
    if not 0.5 <= confidence < 1.0:
        raise MixsearchError(f"confidence must lie in [0.5, 1), got {confidence}")


def recall_and_bound(per_query: np.ndarray, z: float) -> tuple[float, float]:
    """Mean recall and its lower bound ``mean − z·SE``, SE = std(per-query recall)/sqrt(Q).
    A single query gives no spread: its SE is the largest a value in [0, 1] can have (0.5)."""
    mean = float(per_query.mean()) if len(per_query) else 1.0
    n = len(per_query)
    spread = float(per_query.std(ddof=1)) if n > 1 else 0.5
    return mean, float(mean - z * spread / np.sqrt(max(n, 1)))


def _parameter_values(traits: IndexTraits, k: int) -> tuple[str, list[int]]:
    nlist = traits.nlist
    if nlist is not None:
        powers = [2**i for i in range(nlist.bit_length()) if 2**i < nlist]
        return "nprobe", [*powers, nlist]
    if traits.hnsw:
        return "efSearch", [k] + [v for v in EF_SEARCH_VALUES if v > k]
    raise MixsearchError("tuning supports IVF and HNSW indexes (and Flat, which needs none)")


def _smallest_reaching(values: list[int], bound_at: Any, aim: float) -> int:
    """Scan the ladder upwards, then bisect the integers between the last miss and first hit."""
    previous = None
    for value in values:
        if bound_at(value) >= aim:
            low, high = (previous or value - 1), value
            while high - low > 1:
                mid = (low + high) // 2
                low, high = (mid, high) if bound_at(mid) < aim else (low, mid)
            return high
        previous = value
    return values[-1]


def held_out_queries(
    store: Store, n: int, *, seed: int = 0, noise: float = DEFAULT_NOISE
) -> np.ndarray:
    """``n`` stored vectors (sampled with ``seed``) plus Gaussian noise of norm ≈ ``noise``."""
    rng = np.random.default_rng(seed)
    ids = store.all_ids()
    picked = np.sort(rng.choice(ids, size=min(n, len(ids)), replace=False))
    base = store.vectors_for(picked)
    jitter = rng.normal(scale=noise / np.sqrt(store.dim), size=base.shape)
    return l2_normalize(base + jitter)


def exact_neighbours(store: Store, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k FAISS ids [Q, k] by brute force over the stored vectors, chunk by chunk."""
    best_scores = np.full((len(queries), 0), -np.inf, np.float32)
    best_ids = np.full((len(queries), 0), -1, np.int64)
    for ids, vectors in store.iter_vectors():
        scores, found = exact_top_k(queries, vectors, ids, k)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate([best_ids, found], axis=1)
        best_scores, best_ids = exact_top_k_of(merged_scores, merged_ids, k)
    return best_ids


def exact_top_k_of(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)


def _queries_per_second(store: Store, queries: np.ndarray, k: int, params: dict) -> float:
    start = time.perf_counter()
    top_k(store, queries, k, params=params)
    return len(queries) / max(time.perf_counter() - start, 1e-9)
