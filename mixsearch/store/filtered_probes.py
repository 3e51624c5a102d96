"""IVF search under a filter: probe the nearest lists that hold the filter's documents.

IVF scans the ``nprobe`` lists whose centroids are nearest the query. A filter correlated with
the geometry — image documents for a text query across CLIP's modality gap — leaves those lists
with few or none of its documents: at 100k documents and nprobe 1, a ``modality=image`` search
found 11 % of the exact filtered top 10, and at 1M the planner's widened nprobe 4 found 39 %
(RESULTS.md, issue 14). Widening nprobe alone spends the extra probes on lists the filter
empties. Here the coarse search itself is filtered: the quantizer picks the nearest centroids
among the lists holding at least one allowed document, and FAISS scans exactly those
(`IndexIVF.search_preassigned`), with the id selector still applied inside them.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from mixsearch.store.filters import ResolvedFilter


class ListProbes:
    """The coarse-search parameters of one filter on one IVF index: a selector over the lists
    holding its documents (the SWIG parameters do not own the selector: kept together here)."""

    def __init__(self, ivf: faiss.IndexIVF, resolved: ResolvedFilter) -> None:
        allowed = np.unpackbits(resolved.bitmap, bitorder="little").astype(bool)
        holding = np.flatnonzero(
            [_holds_any(ivf.invlists, lst, allowed) for lst in range(ivf.nlist)]
        ).astype(np.int64)
        self.lists = len(holding)
        self._selector = faiss.IDSelectorBatch(holding)
        self.params = faiss.SearchParameters()
        self.params.sel = self._selector


def _holds_any(invlists: Any, lst: int, allowed: np.ndarray) -> bool:
    size = invlists.list_size(lst)
    if size == 0:
        return False
    pointer = invlists.get_ids(lst)
    try:
        ids = faiss.rev_swig_ptr(pointer, size)
        ids = ids[ids < len(allowed)]
        return bool(allowed[ids].any())
    finally:
        invlists.release_ids(lst, pointer)


def search_probing_allowed_lists(
    ivf: faiss.IndexIVF, q: np.ndarray, k: int, search_params: Any, probes: ListProbes
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of an IVF search that scans the ``search_params.nprobe`` nearest lists
    holding allowed documents; ``search_params`` carries the id selector as for `index.search`."""
    n = len(q)
    centroid_scores, lists = ivf.quantizer.search(q, search_params.nprobe, params=probes.params)
    lists = np.ascontiguousarray(lists)  # -1 where fewer lists hold allowed documents: skipped
    centroid_scores = np.ascontiguousarray(centroid_scores)
    scores = np.empty((n, k), dtype=np.float32)
    ids = np.empty((n, k), dtype=np.int64)
    index: Any = ivf  # the C++ entry point: the Python wrapper takes no search parameters
    index.search_preassigned_c(
        n,
        faiss.swig_ptr(q),
        k,
        faiss.swig_ptr(lists),
        faiss.swig_ptr(centroid_scores),
        faiss.swig_ptr(scores),
        faiss.swig_ptr(ids),
        False,
        search_params,
    )
    return scores, ids
