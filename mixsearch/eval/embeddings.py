"""The precomputed-embedding benchmark: alignment methods compared on vectors already computed.

A folder (format in ``docs/embeddings-format.md``) holds query vectors, document text/image
vectors with each document's modality, qrels, and *fit pairs* — image/text vectors of other items,
disjoint from the test queries and corpus — from which alignments and means are estimated. For
each method we fit ``mixsearch.align.fit_alignment`` on the fit pairs, build document vectors with
``mixsearch.fusion.document_vectors`` (α-fusion for image+text) and rank them with the store's own
Flat FAISS index (`rank_documents`), so the numbers describe the engine, not a copy of it.

Uncertainty, two kinds, both reported beside each headline figure (the headline uses an alignment
fitted on *all* fit pairs):

- ``fit_sd``: standard deviation over ``splits`` refits, each on a random ``fit_fraction`` of the
  fit pairs (seeds ``seed..seed+splits-1``): how much the result depends on which fit pairs were
  drawn. Zero for ``none``, which fits nothing. ``auto``'s refits reuse the headline's λ by
  default (``refit_cv=False``): its cross-validation is most of a run's cost, so re-choosing λ on
  every refit made the benchmark six times slower; ``refit_cv=True`` re-chooses it per refit, and
  the sd then also covers the choice of λ.
- ``ci95``: a percentile bootstrap over test queries (``bootstrap`` resamples) of the headline
  run: how much the figure would move with another sample of queries of the same kind.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.documents import Modality
from mixsearch.errors import ItemError, MixsearchError
from mixsearch.eval.metrics import (
    MODALITY_LABELS,
    by_modality,
    mean_metrics,
    per_query_metrics,
    relevant_modality,
    topk_modality_shares,
)
from mixsearch.fusion import DEFAULT_ALPHA, document_vectors, query_vectors

DEFAULT_METHODS = ("none", "center", "procrustes", "lstsq", "auto")
DEFAULT_DEPTH = 100  # ranking depth: MRR is MRR@100
REQUIRED_FILES = ("queries.npy", "doc_modality.npy", "qrels.tsv", "fit_image.npy", "fit_text.npy")
MAX_LISTED = 5


@dataclass
class EmbeddingSet:
    """The contents of a precomputed-embedding folder, validated.

    ``excluded_docs``/``excluded_queries`` hold row indices dropped for bad vectors; they keep
    their index (document ids are row indices) but never enter the store or the metrics.
    """

    queries: np.ndarray
    doc_text: np.ndarray | None
    doc_image: np.ndarray | None
    doc_modality: np.ndarray
    qrels: list[dict[int, float]]
    fit_image: np.ndarray
    fit_text: np.ndarray
    fit_query: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    excluded_docs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    excluded_queries: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    errors: list[ItemError] = field(default_factory=list)

    @property
    def n_docs(self) -> int:
        return len(self.doc_modality)


# ---------------------------------------------------------------------------------------------
# Writing and reading the folder


def save_embeddings_dir(
    path: str | Path,
    *,
    queries: np.ndarray,
    doc_modality: np.ndarray,
    qrels: Sequence[Mapping[int, float]] | Sequence[tuple[int, int, float]],
    fit_image: np.ndarray,
    fit_text: np.ndarray,
    doc_text: np.ndarray | None = None,
    doc_image: np.ndarray | None = None,
    fit_query: np.ndarray | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write a precomputed-embedding folder; ``qrels`` per query (dicts) or as (q, d, score) rows.

    The folder is validated by reading it back, so a writer bug surfaces here, not at benchmark
    time.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {
        "queries": queries,
        "doc_text": doc_text,
        "doc_image": doc_image,
        "fit_image": fit_image,
        "fit_text": fit_text,
        "fit_query": fit_query,
    }
    for name, arr in arrays.items():
        if arr is not None:
            np.save(out / f"{name}.npy", np.asarray(arr, dtype=np.float32), allow_pickle=False)
    np.save(out / "doc_modality.npy", np.asarray(doc_modality, dtype=np.int8), allow_pickle=False)
    _write_qrels(out / "qrels.tsv", _qrels_rows(qrels))
    if meta is not None:
        (out / "meta.json").write_text(json.dumps(dict(meta), indent=2, default=str) + "\n")
    load_embeddings_dir(out)
    return out


def load_embeddings_dir(path: str | Path) -> EmbeddingSet:
    """Read and validate a folder; whole-folder problems raise `MixsearchError` (one line).

    Problems confined to one row — a NaN/inf or all-zero vector, a qrels line out of range or
    unparsable — exclude that row and are listed in ``errors``; the rest proceeds.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise MixsearchError(f"{folder}: not a folder of precomputed embeddings")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise MixsearchError(
            f"{folder}: missing {', '.join(missing)} (see docs/embeddings-format.md)"
        )
    modality = _load_modality(folder / "doc_modality.npy")
    emb = EmbeddingSet(
        queries=_load_matrix(folder / "queries.npy"),
        doc_text=_load_optional(folder / "doc_text.npy"),
        doc_image=_load_optional(folder / "doc_image.npy"),
        doc_modality=modality,
        qrels=[],
        fit_image=_load_matrix(folder / "fit_image.npy"),
        fit_text=_load_matrix(folder / "fit_text.npy"),
        fit_query=_load_optional(folder / "fit_query.npy"),
        meta=_load_meta(folder / "meta.json"),
    )
    _check_shapes(folder, emb)
    _exclude_bad_rows(folder, emb)
    emb.qrels = _read_qrels(folder / "qrels.tsv", len(emb.queries), emb.n_docs, emb.errors)
    return emb


def _load_matrix(path: Path) -> np.ndarray:
    arr = _load_array(path)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MixsearchError(f"{path}: expected a non-empty 2-D array [rows, dim], got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise MixsearchError(f"{path}: expected float vectors, got dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def _load_optional(path: Path) -> np.ndarray | None:
    return _load_matrix(path) if path.is_file() else None


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        reason = " ".join(str(err).split())
        raise MixsearchError(f"{path}: not a readable .npy array ({reason})") from None


def _load_modality(path: Path) -> np.ndarray:
    arr = _load_array(path)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise MixsearchError(
            f"{path}: expected a 1-D integer array [N], got {arr.dtype} {arr.shape}"
        )
    bad = np.flatnonzero((arr < 0) | (arr > 2))
    if len(bad):
        raise MixsearchError(
            f"{path}: rows {_listed(bad)} hold {arr[bad[0]]}; modality codes are "
            "0 (text), 1 (image), 2 (image+text)"
        )
    return arr.astype(np.int64)


def _load_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise MixsearchError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise MixsearchError(f"{path}: expected a JSON object")
    return meta


def _check_shapes(folder: Path, emb: EmbeddingSet) -> None:
    n = emb.n_docs
    needs = {
        "doc_text.npy": emb.doc_modality != Modality.IMAGE,
        "doc_image.npy": emb.doc_modality != Modality.TEXT,
    }
    parts = {"doc_text.npy": emb.doc_text, "doc_image.npy": emb.doc_image}
    for name, arr in parts.items():
        if arr is None and needs[name].any():
            raise MixsearchError(
                f"{folder / name}: missing but {int(needs[name].sum())} documents have that part"
            )
        if arr is not None and arr.shape[0] != n:
            raise MixsearchError(
                f"{folder / name}: {arr.shape[0]} rows but doc_modality.npy lists {n} documents"
            )
    _same_dim(folder, "doc_text.npy", emb.doc_text, "fit_text.npy", emb.fit_text)
    _same_dim(folder, "doc_image.npy", emb.doc_image, "fit_image.npy", emb.fit_image)
    _same_dim(folder, "queries.npy", emb.queries, "fit_query.npy", emb.fit_query)
    _same_dim(folder, "queries.npy", emb.queries, "fit_text.npy", emb.fit_text)
    if emb.fit_image.shape[0] != emb.fit_text.shape[0]:
        raise MixsearchError(
            f"{folder}: fit_image.npy has {emb.fit_image.shape[0]} rows but fit_text.npy has "
            f"{emb.fit_text.shape[0]}; row i of each must be the same item"
        )


def _same_dim(
    folder: Path, name_a: str, a: np.ndarray | None, name_b: str, b: np.ndarray | None
) -> None:
    if a is not None and b is not None and a.shape[1] != b.shape[1]:
        raise MixsearchError(
            f"{folder}: {name_a} has dimension {a.shape[1]} but {name_b} has {b.shape[1]}; "
            "they must come from the same encoder"
        )


def _exclude_bad_rows(folder: Path, emb: EmbeddingSet) -> None:
    """Drop rows with NaN/inf or all-zero vectors, naming each file and the rows."""
    has_text = emb.doc_modality != Modality.IMAGE
    has_image = emb.doc_modality != Modality.TEXT
    bad_docs = np.zeros(emb.n_docs, dtype=bool)
    if emb.doc_text is not None:
        bad_docs |= _bad_mask(folder / "doc_text.npy", emb.doc_text, emb.errors, has_text)
    if emb.doc_image is not None:
        bad_docs |= _bad_mask(folder / "doc_image.npy", emb.doc_image, emb.errors, has_image)
    emb.excluded_docs = np.flatnonzero(bad_docs)
    emb.excluded_queries = np.flatnonzero(
        _bad_mask(folder / "queries.npy", emb.queries, emb.errors)
    )
    fit_bad = _bad_mask(folder / "fit_image.npy", emb.fit_image, emb.errors)
    fit_bad |= _bad_mask(folder / "fit_text.npy", emb.fit_text, emb.errors)
    emb.fit_image, emb.fit_text = emb.fit_image[~fit_bad], emb.fit_text[~fit_bad]
    if emb.fit_query is not None:
        keep = ~_bad_mask(folder / "fit_query.npy", emb.fit_query, emb.errors)
        emb.fit_query = emb.fit_query[keep]


def _bad_mask(
    path: Path, x: np.ndarray, errors: list[ItemError], used: np.ndarray | None = None
) -> np.ndarray:
    """Rows that hold NaN/inf or only zeros, among the ``used`` ones (rows of absent parts
    are ignored by design and never reported)."""
    used = np.ones(len(x), dtype=bool) if used is None else used
    nonfinite = used & ~np.isfinite(x).all(axis=1)
    zero = used & ~nonfinite & ~x.any(axis=1)
    for mask, reason in ((nonfinite, "holds NaN or inf"), (zero, "is all zeros")):
        for row in np.flatnonzero(mask):
            errors.append(ItemError(f"{path.name} row {row}", f"vector {reason}; row skipped"))
    return nonfinite | zero


def _qrels_rows(
    qrels: Sequence[Mapping[int, float]] | Sequence[tuple[int, int, float]],
) -> list[tuple[int, int, float]]:
    rows: list[tuple[int, int, float]] = []
    for i, entry in enumerate(qrels):
        if isinstance(entry, Mapping):
            rows.extend((i, int(d), float(g)) for d, g in entry.items())
        else:
            q, d, g = entry
            rows.append((int(q), int(d), float(g)))
    return rows


def _write_qrels(path: Path, rows: list[tuple[int, int, float]]) -> None:
    lines = ["query_index\tdoc_index\tscore"] + [f"{q}\t{d}\t{g:g}" for q, d, g in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _read_qrels(
    path: Path, n_queries: int, n_docs: int, errors: list[ItemError]
) -> list[dict[int, float]]:
    """Per-query {doc index: grade}; the header line is optional, bad lines are reported."""
    qrels: list[dict[int, float]] = [{} for _ in range(n_queries)]
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or (lineno == 1 and not is_number(fields[0])):
            continue
        parsed = _parse_qrels_line(fields, n_queries, n_docs)
        if isinstance(parsed, str):
            errors.append(ItemError(f"{path.name} line {lineno}", parsed))
            continue
        q, d, grade = parsed
        qrels[q][d] = grade
    return qrels


def _parse_qrels_line(
    fields: list[str], n_queries: int, n_docs: int
) -> tuple[int, int, float] | str:
    if len(fields) != 3:
        return f"expected 3 fields 'query_index doc_index score', got {len(fields)}"
    try:
        q, d, grade = int(fields[0]), int(fields[1]), float(fields[2])
    except ValueError:
        return f"not numbers: {' '.join(fields)!r}"
    if not 0 <= q < n_queries:
        return f"query index {q} out of range (queries.npy has {n_queries} rows)"
    if not 0 <= d < n_docs:
        return f"doc index {d} out of range (doc_modality.npy has {n_docs} documents)"
    return q, d, grade


def is_number(text: str) -> bool:
    """Whether a header-or-data cell parses as a number (a header row's cells do not)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _listed(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:MAX_LISTED])
    return shown + (f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else "")


# ---------------------------------------------------------------------------------------------
# Ranking through the engine's own store and ranking layer


def rank_documents(
    doc_vectors: np.ndarray,
    query_vecs: np.ndarray,
    depth: int,
    doc_indices: np.ndarray | None = None,
) -> Rankings:
    """Rank as the engine ranks an unfiltered Flat store: the store's own FAISS index
    (`mixsearch.store.index_spec.build_index`), float32 unit vectors, top ``depth`` best first.

    ``doc_indices`` label the rows (default 0..N-1). Document and query vectors arrive unit-length
    (`mixsearch.fusion`), so a store would keep them as they are; a real `Store` per run only
    added SQLite commits and fsyncs (most of a benchmark's time). The index is the store's, not a
    numpy product, because FAISS orders tied scores its own way (documents with identical vectors
    tie exactly) and recall@1 and MRR depend on that order; ``tests/eval/test_rank_documents.py``
    checks ids and scores against a real store, ties included.
    """
    from mixsearch.store.index_spec import build_index

    if doc_indices is None:
        doc_indices = np.arange(len(doc_vectors))
    vectors = np.ascontiguousarray(doc_vectors, dtype=np.float32)
    queries = np.ascontiguousarray(query_vecs, dtype=np.float32)
    index = build_index("Flat", vectors.shape[1], vectors).index
    index.add_with_ids(vectors, np.asarray(doc_indices, dtype=np.int64))
    scores, ids = index.search(queries, min(depth, len(vectors)))
    return Rankings(ids.tolist(), scores.tolist())


@dataclass
class Rankings:
    """Per query: document indices best first, and their scores (ties share nDCG gain)."""

    ids: list[list[int]]
    scores: list[list[float]]


# ---------------------------------------------------------------------------------------------
# The benchmark


def run_embeddings_benchmark(
    path: str | Path | EmbeddingSet,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    alpha: float = DEFAULT_ALPHA,
    k: int = 10,
    splits: int = 5,
    fit_fraction: float = 0.8,
    bootstrap: int = 1000,
    seed: int = 0,
    depth: int = DEFAULT_DEPTH,
    refit_cv: bool = False,
) -> dict[str, Any]:
    """Compare alignment methods on a precomputed-embedding folder; returns a JSON-ready dict.

    ``results["methods"][name]`` holds the headline metrics (alignment fitted on all fit pairs),
    ``fit_sd`` and ``ci95`` per metric (module docstring), ``by_modality`` and ``top{k}_share``;
    a method that cannot run on this data (e.g. ``none`` when image and text dimensions differ)
    holds ``{"error": reason}`` instead, and the others still run.
    """
    emb = path if isinstance(path, EmbeddingSet) else load_embeddings_dir(path)
    test_queries = _scored_queries(emb)
    if not len(test_queries):
        raise MixsearchError("no query has a relevant document in qrels.tsv; nothing to evaluate")
    docs = np.setdiff1d(np.arange(emb.n_docs), emb.excluded_docs)
    ctx = _RunContext(emb, test_queries, docs, alpha, k, depth)
    results: dict[str, Any] = {
        "k": k,
        "alpha": alpha,
        "depth": depth,
        "splits": splits,
        "fit_fraction": fit_fraction,
        "bootstrap": bootstrap,
        "seed": seed,
        "refit_cv": refit_cv,
        "n_queries": int(len(test_queries)),
        "n_docs": int(len(docs)),
        "n_fit_pairs": int(len(emb.fit_image)),
        "doc_modality_counts": _modality_counts(emb.doc_modality[docs]),
        "meta": emb.meta,
        "methods": {},
        "errors": [e.to_dict() for e in emb.errors],
    }
    from mixsearch.align.threads import one_blas_thread

    # fits are many small SVDs and rankings small matmuls: extra BLAS threads only spin
    with one_blas_thread():
        for method in methods:
            results["methods"][method] = _evaluate_method(
                ctx, method, splits, fit_fraction, bootstrap, seed, refit_cv
            )
    return results


@dataclass
class _RunContext:
    emb: EmbeddingSet
    queries: np.ndarray  # indices of the evaluated queries
    docs: np.ndarray  # indices of the documents put in the store
    alpha: float
    k: int
    depth: int


def _scored_queries(emb: EmbeddingSet) -> np.ndarray:
    """Queries with a usable vector and at least one relevant document still in the corpus."""
    dropped = set(emb.excluded_docs.tolist())
    has_relevant = np.array(
        [any(g > 0 and d not in dropped for d, g in q.items()) for q in emb.qrels], dtype=bool
    )
    has_relevant[emb.excluded_queries] = False
    return np.flatnonzero(has_relevant)


def _modality_counts(modality: np.ndarray) -> dict[str, int]:
    return {label: int((modality == code).sum()) for code, label in enumerate(MODALITY_LABELS)}


def _evaluate_method(
    ctx: _RunContext,
    method: str,
    splits: int,
    fit_fraction: float,
    bootstrap: int,
    seed: int,
    refit_cv: bool,
) -> dict[str, Any]:
    emb = ctx.emb
    try:
        check_shared_space(method, emb.fit_image.shape[1], emb.fit_text.shape[1])
        headline = _run_once(ctx, method, emb.fit_image, emb.fit_text, emb.fit_query)
        reused = None if refit_cv else headline["lambda"]
        refits = _refit_runs(ctx, method, splits, fit_fraction, seed, reused)
    except (MixsearchError, ValueError) as err:
        return {"error": " ".join(str(err).split())}
    return summarize_runs(headline, refits, ctx.k, bootstrap, seed)


def check_shared_space(method: str, source_dim: int, target_dim: int) -> None:
    """``none`` and ``center`` compare coordinates one to one: only meaningful in one space."""
    if method in ("none", "center") and source_dim != target_dim:
        raise MixsearchError(
            f"image vectors are {source_dim}-d and text vectors {target_dim}-d; {method!r} "
            "needs one shared space (use procrustes, lstsq or auto)"
        )


def _refit_runs(
    ctx: _RunContext,
    method: str,
    splits: int,
    fit_fraction: float,
    seed: int,
    lambda_: float | str | None = None,
) -> list[dict[str, Any]]:
    """Runs with alignments refitted on random subsets of the fit pairs (none for ``none``);
    ``lambda_``: ``auto``'s λ to reuse instead of cross-validating each refit."""
    if method == "none" or splits < 2:
        return []
    emb = ctx.emb
    runs = []
    for s in range(splits):
        rng = np.random.default_rng(seed + s)
        pick = _subset(rng, len(emb.fit_image), fit_fraction)
        fit_query = None
        if emb.fit_query is not None:
            fit_query = emb.fit_query[_subset(rng, len(emb.fit_query), fit_fraction)]
        runs.append(
            _run_once(ctx, method, emb.fit_image[pick], emb.fit_text[pick], fit_query, lambda_)
        )
    return runs


def _subset(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    size = max(2, int(round(n * fraction)))
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def _run_once(
    ctx: _RunContext,
    method: str,
    fit_image: np.ndarray,
    fit_text: np.ndarray,
    fit_query: np.ndarray | None,
    lambda_: float | str | None = None,
) -> dict[str, Any]:
    """Fit one alignment (``auto`` with ``lambda_`` given: that λ, no cross-validation), rank
    every test query, return per-query metrics and the rankings."""
    from mixsearch.align import fit_alignment
    from mixsearch.align.alignment import lambda_to_json

    emb = ctx.emb
    lambdas = None if lambda_ is None else [float(lambda_)]
    alignment = fit_alignment(
        fit_image, fit_text, method, query=fit_query, alpha=ctx.alpha, lambdas=lambdas
    )
    doc_vecs = document_vectors(
        _rows(emb.doc_text, ctx.docs),
        _rows(emb.doc_image, ctx.docs),
        emb.doc_modality[ctx.docs],
        alignment,
        ctx.alpha,
    )
    qvecs = query_vectors(emb.queries[ctx.queries], alignment)
    ranked = rank_documents(doc_vecs, qvecs, ctx.depth, ctx.docs)
    qrels = [emb.qrels[q] for q in ctx.queries]
    run = evaluate_run(ranked.ids, qrels, emb.doc_modality, ctx.k, ranked.scores)
    run["lambda"] = lambda_to_json(alignment.lambda_)  # `auto`'s chosen shrinkage, else None
    return run


def _rows(x: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if x is None else x[rows]


def evaluate_run(
    rankings: Sequence[Sequence[int]],
    qrels: Sequence[Mapping[Hashable, float]],
    doc_modality: Any,
    k: int,
    scores: Sequence[Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Per-query metric arrays, each query's relevant modality, and top-k modality shares."""
    return {
        "per_query": per_query_metrics(rankings, qrels, k, scores),
        "relevant_modality": np.array(
            [_code(relevant_modality(q, doc_modality)) for q in qrels], dtype=int
        ),
        "top_share": topk_modality_shares(rankings, doc_modality, k),
    }


def _code(code: int | None) -> int:
    return -1 if code is None else code


def summarize_runs(
    headline: Mapping[str, Any],
    refits: Sequence[Mapping[str, Any]],
    k: int,
    bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """Headline means, ``fit_sd`` over refits, query-bootstrap ``ci95``, breakdowns."""
    per_query = headline["per_query"]
    out: dict[str, Any] = dict(mean_metrics(per_query))
    out["fit_sd"] = {
        name: float(np.std([mean_metrics(r["per_query"])[name] for r in refits])) if refits else 0.0
        for name in per_query
    }
    out["n_refits"] = len(refits)
    out["ci95"] = _bootstrap_ci(per_query, bootstrap, seed)
    out["by_modality"] = by_modality(per_query, headline["relevant_modality"])
    out[f"top{k}_share"] = headline["top_share"]
    if headline.get("lambda") is not None:
        out["lambda"] = headline["lambda"]
        out["refit_lambdas"] = [r.get("lambda") for r in refits]
    return out


def _bootstrap_ci(
    per_query: Mapping[str, np.ndarray], resamples: int, seed: int
) -> dict[str, list[float]]:
    """Percentile 95% interval of each mean under resampling of the test queries."""
    if resamples < 1:
        return {}
    rng = np.random.default_rng(seed)
    n = len(next(iter(per_query.values())))
    picks = rng.integers(0, n, size=(resamples, n))
    return {
        name: [
            float(np.percentile(v[picks].mean(axis=1), 2.5)),
            float(np.percentile(v[picks].mean(axis=1), 97.5)),
        ]
        for name, v in per_query.items()
    }
