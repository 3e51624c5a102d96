"""The arrays of one search: the query rows checked and put at length 1, and the result arrays
FAISS fills.

Each function has a compiled twin in the optional C extension `_search_arrays.c`, built at
install; the names below are bound to it when it is built and to the Python twins here when
not (tests compare the two). The twins do the same work; compiled, it costs field reads
instead of numpy calls, which matters because right after a FAISS search has cooled the CPU
caches each numpy call costs 5-15 µs (benchmarks/search.py at 1M documents).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from mixsearch.vectors import NORM_EPS

UNIT_TOLERANCE = 1e-6  # a row this close to length 1 is left as it is


def query_rows_python(q: object, dim: int) -> np.ndarray | None:
    """``q`` when it is an ndarray (not a subclass) of finite native float32, aligned and
    C-contiguous, shaped [n, dim] — what FAISS reads as raw memory — else None."""
    if type(q) is not np.ndarray:
        return None
    ok = (
        q.dtype == np.float32
        and q.dtype.isnative
        and q.ndim == 2
        and q.shape[1] == dim
        and q.flags.c_contiguous
        and q.flags.aligned
        and bool(np.isfinite(q).all())  # FAISS ranks a NaN query's neighbours as nothing
    )
    return q if ok else None


def converted_query_rows(raw: Any, dim: int) -> np.ndarray:
    """The slow path beside `query_rows`: ``raw`` (any array-like of [n, dim] rows, or one
    [dim] vector) as a C-contiguous float32 [n, dim] array. Another shape, or a row with NaN or
    infinity (FAISS would rank nothing for it, silently), is a ValueError naming it; callers
    raise it as their own error type."""
    q = np.asarray(raw, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != dim:
        raise ValueError(f"query vectors must have shape [n, {dim}] or [{dim}], got {q.shape}")
    bad = np.flatnonzero(~np.isfinite(q).all(axis=1))
    if len(bad):
        raise ValueError(f"query row {bad[0]} is not finite (NaN or infinity)")
    return np.ascontiguousarray(q)


def unit_rows_python(
    q: np.ndarray,
    shift: np.ndarray | None,
    tolerance: float = UNIT_TOLERANCE,
    eps: float = NORM_EPS,
) -> np.ndarray:
    """The rows of ``q`` (`query_rows`-shaped) plus ``shift`` (float32 [dim] or None) at length
    1; ``q`` itself when there is no shift and every row is within ``tolerance`` of length 1
    (a text encoder's own output: the common query). A row that is not finite is a ValueError
    naming it."""
    y = q if shift is None else q + shift
    norms = np.sqrt(np.einsum("ij,ij->i", y, y, dtype=np.float64))
    bad = np.flatnonzero(~np.isfinite(norms))
    if len(bad):
        raise ValueError(f"query row {bad[0]} is not finite (NaN or infinity)")
    if shift is None and np.all(np.abs(norms - 1.0) <= tolerance):
        return q
    unit = np.abs(norms - 1.0) <= tolerance if shift is None else np.zeros(len(y), bool)
    divisors = np.where(unit, 1.0, np.maximum(norms, eps)).astype(np.float32)
    return (y / divisors[:, None]).astype(np.float32, copy=False)


def result_arrays_python(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Uninitialised (float32 [n, k] scores, int64 [n, k] ids) for FAISS to fill."""
    return np.empty((n, k), dtype=np.float32), np.empty((n, k), dtype=np.int64)


def _compiled() -> ModuleType | None:
    try:  # optional (see the module docstring); an ImportError also when numpy's ABI differs
        from mixsearch import _search_arrays
    except ImportError:
        return None
    return _search_arrays


compiled = _compiled()
query_rows: Callable[[object, int], np.ndarray | None] = (
    compiled.query_rows if compiled else query_rows_python
)
unit_rows: Callable[[np.ndarray, np.ndarray | None, float, float], np.ndarray] = (
    compiled.unit_rows if compiled else unit_rows_python
)
result_arrays: Callable[[int, int], tuple[np.ndarray, np.ndarray]] = (
    compiled.result_arrays if compiled else result_arrays_python
)
