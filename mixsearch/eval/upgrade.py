"""Model-upgrade evaluation: search documents embedded by an old model A with a new model B.

Re-embedding a large corpus after a text-model upgrade is expensive. If a map from B's space to
A's can be fitted on a few paired texts (``fit_b[i]`` and ``fit_a[i]`` embed the same text), new
queries embedded by B can search the old A vectors. This compares, on one set of test queries:

- ``none``: B's query vectors used as they are (only defined when the dimensions agree; shows
  how incompatible two models' spaces are),
- each alignment method of ``mixsearch.align`` fitted with source = B, target = A (the document
  side goes through the alignment's target side, queries through its source side),
- ``ceiling``: the same queries embedded by A itself — the best any map can hope for.

Ranking goes through the engine's store and ``mixsearch.rank.rank``, and results have the same
shape as `run_embeddings_benchmark`'s, so `mixsearch.eval.report.write_report` renders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mixsearch.documents import Modality
from mixsearch.errors import MixsearchError
from mixsearch.eval.embeddings import DEFAULT_DEPTH, check_shared_space
from mixsearch.eval.run_scoring import evaluate_run, rank_documents, summarize_runs
from mixsearch.fusion import document_vectors, l2_normalize

UPGRADE_METHODS = ("none", "procrustes", "auto", "lstsq")
CEILING = "ceiling"

QrelsInput = np.ndarray | Sequence[Mapping[int, float]]


def run_upgrade_benchmark(
    docs_a: np.ndarray,
    queries_b: np.ndarray,
    queries_a: np.ndarray,
    fit_b: np.ndarray,
    fit_a: np.ndarray,
    qrels: QrelsInput,
    methods: Sequence[str] = UPGRADE_METHODS,
    *,
    k: int = 10,
    splits: int = 5,
    fit_fraction: float = 0.8,
    bootstrap: int = 1000,
    seed: int = 0,
    depth: int = DEFAULT_DEPTH,
) -> dict[str, Any]:
    """Scores per method plus ``ceiling``; ``qrels`` as relevant doc index per query [Q], as
    rows (query, doc, grade) [R, 3], or one {doc: grade} dict per query."""
    docs_a, queries_a = _matrix(docs_a, "docs_a"), _matrix(queries_a, "queries_a")
    queries_b, fit_b, fit_a = (
        _matrix(queries_b, "queries_b"),
        _matrix(fit_b, "fit_b"),
        _matrix(fit_a, "fit_a"),
    )
    _check_shapes(docs_a, queries_b, queries_a, fit_b, fit_a)
    per_query_qrels = normalize_qrels(qrels, len(queries_b), len(docs_a))
    scored = np.array([any(g > 0 for g in q.values()) for q in per_query_qrels], dtype=bool)
    if not scored.any():
        raise MixsearchError("no query has a relevant document; nothing to evaluate")
    ctx = _UpgradeContext(docs_a, per_query_qrels, np.flatnonzero(scored), k, depth)
    results: dict[str, Any] = {
        "k": k,
        "depth": depth,
        "splits": splits,
        "fit_fraction": fit_fraction,
        "bootstrap": bootstrap,
        "seed": seed,
        "n_queries": int(scored.sum()),
        "n_docs": len(docs_a),
        "n_fit_pairs": len(fit_a),
        "dims": {"a": docs_a.shape[1], "b": queries_b.shape[1]},
        "methods": {},
        "errors": [],
    }
    for method in [m for m in methods if m != CEILING]:
        results["methods"][method] = _evaluate(
            ctx, method, queries_b, fit_b, fit_a, splits, fit_fraction, bootstrap, seed
        )
    ceiling = ctx.run(l2_normalize(docs_a), l2_normalize(queries_a))
    results["methods"][CEILING] = summarize_runs(ceiling, [], k, bootstrap, seed)
    return results


class _UpgradeContext:
    def __init__(
        self,
        docs_a: np.ndarray,
        qrels: list[dict[int, float]],
        scored: np.ndarray,
        k: int,
        depth: int,
    ) -> None:
        self.docs_a = docs_a
        self.qrels = qrels
        self.scored = scored
        self.k = k
        self.depth = depth
        self.modality = np.full(len(docs_a), int(Modality.TEXT))

    def run(self, doc_vecs: np.ndarray, query_vecs: np.ndarray) -> dict[str, Any]:
        ranked = rank_documents(doc_vecs, query_vecs[self.scored], self.depth)
        qrels = [self.qrels[q] for q in self.scored]
        return evaluate_run(ranked.ids, qrels, self.modality, self.k, ranked.scores)

    def run_aligned(
        self, method: str, queries_b: np.ndarray, fit_b: np.ndarray, fit_a: np.ndarray
    ) -> dict[str, Any]:
        from mixsearch.align import fit_alignment

        alignment = fit_alignment(fit_b, fit_a, method, objective="pairs")  # as Engine.bridge
        docs = document_vectors(self.docs_a, None, self.modality, alignment)
        q = alignment.transform(l2_normalize(queries_b), side="source", normalize=False)
        return self.run(docs, l2_normalize(q))


def _evaluate(
    ctx: _UpgradeContext,
    method: str,
    queries_b: np.ndarray,
    fit_b: np.ndarray,
    fit_a: np.ndarray,
    splits: int,
    fit_fraction: float,
    bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    try:
        if method == "none":
            if queries_b.shape[1] != ctx.docs_a.shape[1]:
                raise MixsearchError(
                    f"model B is {queries_b.shape[1]}-d and model A {ctx.docs_a.shape[1]}-d; "
                    "without an alignment their vectors cannot be compared"
                )
            headline = ctx.run(l2_normalize(ctx.docs_a), l2_normalize(queries_b))
            return summarize_runs(headline, [], ctx.k, bootstrap, seed)
        check_shared_space(method, fit_b.shape[1], fit_a.shape[1])
        headline = ctx.run_aligned(method, queries_b, fit_b, fit_a)
        refits = []
        for s in range(splits if splits > 1 else 0):
            rng = np.random.default_rng(seed + s)
            pick = np.sort(
                rng.choice(len(fit_a), size=max(2, round(len(fit_a) * fit_fraction)), replace=False)
            )
            refits.append(ctx.run_aligned(method, queries_b, fit_b[pick], fit_a[pick]))
    except (MixsearchError, ValueError) as err:
        return {"error": " ".join(str(err).split())}
    return summarize_runs(headline, refits, ctx.k, bootstrap, seed)


def normalize_qrels(qrels: QrelsInput, n_queries: int, n_docs: int) -> list[dict[int, float]]:
    """Per-query {doc index: grade} from any of the accepted forms, indices range-checked."""
    if isinstance(qrels, np.ndarray) and qrels.ndim == 1:
        out = [{int(d): 1.0} for d in qrels]
    elif isinstance(qrels, np.ndarray) and qrels.ndim == 2 and qrels.shape[1] == 3:
        out = [{} for _ in range(n_queries)]
        for q, d, g in qrels:
            _check_index(int(q), n_queries, "query")
            out[int(q)][int(d)] = float(g)
    elif isinstance(qrels, np.ndarray):
        raise MixsearchError(f"qrels: expected shape [Q] or [R, 3], got {qrels.shape}")
    else:
        out = [{int(d): float(g) for d, g in q.items()} for q in qrels]
    if len(out) != n_queries:
        raise MixsearchError(f"qrels cover {len(out)} queries but queries_b has {n_queries} rows")
    for q in out:
        for d in q:
            _check_index(d, n_docs, "document")
    return out


def _check_index(i: int, n: int, what: str) -> None:
    if not 0 <= i < n:
        raise MixsearchError(f"qrels: {what} index {i} out of range (0..{n - 1})")


def _matrix(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2 or not arr.size:
        raise MixsearchError(f"{name}: expected a non-empty 2-D array, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if len(bad):
        raise MixsearchError(f"{name}: row {int(bad[0])} holds NaN or inf ({len(bad)} such rows)")
    return arr


def _check_shapes(
    docs_a: np.ndarray,
    queries_b: np.ndarray,
    queries_a: np.ndarray,
    fit_b: np.ndarray,
    fit_a: np.ndarray,
) -> None:
    if len(queries_a) != len(queries_b):
        raise MixsearchError(
            f"queries_a has {len(queries_a)} rows but queries_b {len(queries_b)}; they must pair"
        )
    if len(fit_a) != len(fit_b):
        raise MixsearchError(f"fit_a has {len(fit_a)} rows but fit_b {len(fit_b)}; they must pair")
    for name, arr, ref in (
        ("queries_a", queries_a, docs_a),
        ("fit_a", fit_a, docs_a),
        ("fit_b", fit_b, queries_b),
    ):
        if arr.shape[1] != ref.shape[1]:
            raise MixsearchError(
                f"{name} is {arr.shape[1]}-d but its model's other vectors are {ref.shape[1]}-d"
            )
