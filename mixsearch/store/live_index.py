"""The searchable part of a store: the loaded FAISS index and what searches keep beside it.

A `LiveIndex` holds the in-memory index of the committed generation the store has loaded, the
removed ids an HNSW graph still holds (masked by a selector), the FAISS parameter objects of
its searches, the IVF lists each filter's documents lie in (`filtered_probes`), the resolved filters (`filters.FilterCache`) and the hit lookup
(`hit_table.HitRows`). The commit machinery (`commits.Commits`) replaces its index on load and
updates it on commit; `Store` searches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faiss
import numpy as np

from mixsearch.store import index_spec as spec_mod
from mixsearch.store.faiss_call import faiss_search
from mixsearch.store.filter_partitions import FilterPartitions
from mixsearch.store.filtered_probes import ListProbes, search_probing_allowed_lists
from mixsearch.store.filters import FilterCache, ResolvedFilter
from mixsearch.store.hit_table import HitRows

MAX_CACHED_PARAMETERS = 256


class LiveIndex:
    """The loaded index with its dead-id mask, parameter cache, filters and hit lookup."""

    def __init__(self) -> None:
        self.index: faiss.Index | None = None
        self.traits = spec_mod.IndexTraits.of(None)
        self._dim = 0
        self.dead = np.empty(0, dtype=np.int64)  # ids masked at search time (HNSW only)
        self._dead_selector: Any = None
        self._parameters: dict[tuple, Any] = {}
        self.filters = FilterCache()  # resolved filters of the loaded generation
        self.hits = HitRows()  # what hits show, from memory once that pays (hit_table.py)
        self.partitions = FilterPartitions()  # graph stores: filters' own IVF indexes

    def set(self, index: faiss.Index | None, dead: np.ndarray) -> None:
        """Use ``index`` with the removed ids ``dead`` still in it masked."""
        self.index = index
        self._dim = 0 if index is None else index.d
        self.traits = spec_mod.IndexTraits.of(index)
        self._parameters.clear()
        self.partitions.clear()  # of the generation before: their memory goes now
        self.dead = dead
        self._dead_selector = None
        if len(dead):
            batch = faiss.IDSelectorBatch(dead)
            self._dead_selector = (faiss.IDSelectorNot(batch), batch)

    def forget_parameters(self) -> None:
        """The stored search parameters changed: rebuild the FAISS objects on the next search."""
        self._parameters.clear()

    def close(self) -> None:
        self.index = None
        self.hits.clear()
        self.partitions.clear()

    def apply(self, fids: np.ndarray, vectors: np.ndarray, removed: np.ndarray) -> None:
        """Add the rows of a commit and remove (or mask, for HNSW) its removed ids."""
        index: Any = self.index  # the faiss stubs type remove_ids(IDSelector) only
        assert index is not None or (len(fids) == 0 and len(removed) == 0)
        if len(removed):
            if self.traits.removable:
                index.remove_ids(removed)
            else:
                self.set(index, np.union1d(self.dead, removed))
        if len(fids):
            index.add_with_ids(vectors, fids)
        self._parameters.clear()  # the filters of the old generation are keys there
        self.partitions.clear()  # they hold the old generation's documents

    def search(
        self,
        q: np.ndarray,
        k: int,
        stored_params: Callable[[], dict[str, int]],
        params: dict | None,
        allowed_ids: np.ndarray | ResolvedFilter | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """FAISS candidates for the float32 [Q, dim] queries ``q`` (see `Store.search`)."""
        if self.index is None or self.index.ntotal == 0 or k < 1:
            return (
                np.full((len(q), max(k, 0)), -np.inf, np.float32),
                np.full((len(q), max(k, 0)), -1, np.int64),
            )
        if allowed_ids is None or isinstance(allowed_ids, ResolvedFilter):
            sp = self._cached_parameters(stored_params, params, k, allowed_ids)
            if allowed_ids is not None and isinstance(self.index, faiss.IndexIVF):
                probes = self._list_probes(allowed_ids)
                return search_probing_allowed_lists(self.index, q, k, sp, probes)
        else:
            use = stored_params() if params is None else spec_mod.check_search_params(params)
            keep: list[Any] = []  # FAISS selectors do not own their arrays: keep them alive
            sp = spec_mod.faiss_search_parameters(
                self.traits, use, k, self._selector(allowed_ids, keep)
            )
        return faiss_search(self.index, self._dim, q, k, sp)

    def _list_probes(self, resolved: ResolvedFilter) -> ListProbes:
        """The IVF lists holding the filter's documents, found once per filter and index."""
        key = ("lists", resolved)
        probes = self._parameters.get(key)
        if probes is None:
            assert isinstance(self.index, faiss.IndexIVF)
            probes = self._parameters[key] = ListProbes(self.index, resolved)
        return probes

    def _cached_parameters(
        self,
        stored_params: Callable[[], dict[str, int]],
        params: dict | None,
        k: int,
        resolved: ResolvedFilter | None,
    ) -> Any:
        """FAISS parameter objects, built once per (filter, params, k) and kept until the index
        changes: a SWIG object built per search is a good part of the engine's overhead over
        raw FAISS, which the latency benchmark measures."""
        key = (resolved, None if params is None else tuple(sorted(params.items())), k)
        sp = self._parameters.get(key)
        if sp is None:
            use = stored_params() if params is None else spec_mod.check_search_params(params)
            selector: Any
            if resolved is not None:
                selector = resolved.selector  # built from live rows: no dead ids in it
            else:
                selector = self._dead_selector[0] if self._dead_selector is not None else None
            sp = spec_mod.faiss_search_parameters(self.traits, use, k, selector)
            if len(self._parameters) > MAX_CACHED_PARAMETERS:
                self._parameters.clear()
            self._parameters[key] = sp  # the key keeps the filter (and its bitmap) alive
        return sp

    def _selector(self, allowed_ids: np.ndarray, keep: list[Any]) -> Any:
        dead = self._dead_selector[0] if self._dead_selector is not None else None
        allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
        batch = faiss.IDSelectorBatch(allowed)
        keep.append(batch)
        if dead is None:
            return batch
        both = faiss.IDSelectorAnd(batch, dead)
        keep.append(both)
        return both


def live_count_problem(index: faiss.Index, dead: np.ndarray, count: int) -> str | None:
    """Checkpoint + replay must hold exactly the committed documents (HNSW keeps removed ids
    masked, some of them possibly never replayed: a range then); what is wrong, else None."""
    total = int(index.ntotal)
    if count == total or (not spec_mod.is_removable(index) and total - len(dead) <= count < total):
        return None
    return f"its index holds {total} vectors ({len(dead)} removed) for {count} documents"
