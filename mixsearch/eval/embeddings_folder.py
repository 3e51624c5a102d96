"""The precomputed-embedding folder: writing it, and reading it back validated.

The layout is ``docs/embeddings-format.md``: query vectors, document text/image vectors with each
document's modality, qrels by row index, fit pairs and an optional ``meta.json``.
`load_embeddings_dir` refuses a folder whose problem is whole-folder (a missing or unreadable
file, mismatched shapes or dimensions, an unknown modality code) with one line naming the file,
and excludes a row confined problem (NaN/inf or all-zero vectors, a bad qrels line) with an
`ItemError`, so the rest proceeds. `save_embeddings_dir` reads what it wrote back the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.documents import Modality
from mixsearch.errors import ItemError, MixsearchError

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
