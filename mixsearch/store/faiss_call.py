"""One FAISS search without FAISS's Python wrapper: the loaded index's (`live_index`) and a
filter partition's (`filter_partitions`)."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np
from faiss import swig_ptr

from mixsearch import search_arrays


def faiss_search(
    index: faiss.Index, dim: int, q: np.ndarray, k: int, params: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``index.search(q, k, params=params)`` without FAISS's Python wrapper, whose conversions
    `Store.query_matrix` has made already and which costs ~10 µs a call: as much as the rest of
    the engine's unfiltered path. The C++ call reads ``q`` as raw memory, hence the check."""
    if search_arrays.query_rows(q, dim) is None:
        raise ValueError(
            f"queries must be finite, C-contiguous float32 [n, {dim}], got {q.dtype} {q.shape}"
        )
    n = len(q)
    scores, ids = search_arrays.result_arrays(n, k)
    c_index: Any = index  # the C++ entry point (not in the faiss type stubs)
    c_index.search_c(n, swig_ptr(q), k, swig_ptr(scores), swig_ptr(ids), params)
    return scores, ids
