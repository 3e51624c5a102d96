"""Input checks of the store: a batch of records and vectors, JSON values, writable paths.

Each failure is one `StoreInputError` (or `StoreError`) naming the store, the items and the reason,
raised before anything is written.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Container, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.documents import DocRecord, Modality
from mixsearch.errors import StoreError, StoreInputError
from mixsearch.store.layout import DB_NAME

NORM_TOLERANCE = 1e-3


def checked_batch(
    path: Path, dim: int, records: Sequence[DocRecord], vectors: np.ndarray
) -> tuple[list[DocRecord], np.ndarray]:
    """The records as a list and the vectors as unit float32 rows, or the first problem."""
    records = list(records)
    vecs = np.asarray(vectors, dtype=np.float32)
    if vecs.ndim != 2 or vecs.shape != (len(records), dim):
        raise StoreInputError(
            f"{path}: expected vectors of shape ({len(records)}, {dim}) for "
            f"{len(records)} records, got {vecs.shape}"
        )
    for rec in records:
        check_record(rec)
    dup = sorted(d for d, n in Counter(r.doc_id for r in records).items() if n > 1)
    if dup:
        raise StoreInputError(
            f"{path}: doc_id(s) repeated within the batch: {names(dup)}; nothing added"
        )
    return records, _normalised(path, records, vecs)


def _normalised(path: Path, records: list[DocRecord], vecs: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vecs, axis=1)
    bad = ~np.isfinite(norms) | (norms < 1e-6)
    if bad.any():
        bad_ids = [records[i].doc_id for i in np.flatnonzero(bad)]
        raise StoreInputError(
            f"{path}: zero or non-finite vectors for {names(bad_ids)}; nothing added"
        )
    # Scores are cosine only on unit vectors; renormalising here costs little and protects
    # the index from callers that pass raw encoder output.
    if np.abs(norms - 1.0).max(initial=0.0) > NORM_TOLERANCE:
        vecs = vecs / norms[:, None]
    return np.ascontiguousarray(vecs, dtype=np.float32)


def faiss_id_array(path: Path, faiss_ids: Any) -> np.ndarray:
    """``faiss_ids`` as a flat int64 array, or one message saying why they are not FAISS ids."""
    try:
        ids = np.asarray(faiss_ids)
    except ValueError as err:  # ragged nesting
        raise StoreInputError(
            f"{path}: FAISS ids must be a flat list of integers ({err})"
        ) from None
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise StoreInputError(f"{path}: FAISS ids must be integers, got {ids.dtype} values")
    return ids.astype(np.int64).reshape(-1)


def refuse_unknown(path: Path, ids: list[int], found: Container[int]) -> None:
    unknown = [i for i in dict.fromkeys(ids) if i not in found]
    if unknown:
        raise StoreInputError(f"{path}: unknown FAISS id(s) {names(unknown)}")


def check_record(rec: DocRecord) -> None:
    if not isinstance(rec, DocRecord):
        raise StoreInputError(f"expected DocRecord, got {type(rec).__name__}")
    if not isinstance(rec.doc_id, str) or not rec.doc_id:
        raise StoreInputError(f"document {rec.doc_id!r}: doc_id must be a non-empty string")
    if not isinstance(rec.modality, Modality):
        raise StoreInputError(f"document {rec.doc_id!r}: modality must be a Modality")
    if not isinstance(rec.metadata, dict):
        raise StoreInputError(f"document {rec.doc_id!r}: metadata must be a dict")
    json_or_error(rec.metadata, f"document {rec.doc_id!r}: metadata")


def json_or_error(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)  # NaN would break every later --where on the store
    except (TypeError, ValueError, RecursionError) as err:
        raise StoreInputError(f"{what} is not JSON-serialisable: {err}") from None


def names(items: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def refuse_unwritable(path: Path) -> None:
    """A writer on read-only media (or without write permission) is refused up front, in one
    line, rather than failing half-way with a SQLite error."""
    for target in (path, path / DB_NAME):
        if not os.access(target, os.W_OK):
            raise StoreError(
                f"{path}: the store is read-only ({target.name} is not writable); search, info "
                "and verify work on it, but it cannot be changed"
            )
