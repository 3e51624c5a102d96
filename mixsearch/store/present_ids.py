"""Which FAISS ids are documents, for `Store.vectors_for`.

The vector file keeps a removed document's row until `compact` (then a hole, read as zeros), so
its row count says nothing about presence: the document table does. Asking SQLite costs ~2 µs per
id (`present_ids`: 0.2 ms for 100 ids, 1.9 ms for 1000, under load) — several times the gather
itself, and exact re-scoring asks on every search. So, as for the hit table, a bitmap of the
loaded generation's ids is kept in a `GenerationCache`: built once the SQLite checks of that
generation have cost as much as one scan of the ids, used while nothing has committed past it;
otherwise SQLite answers, which also sees documents another process removed since.
"""

from __future__ import annotations

import sqlite3
import time

import numpy as np

from mixsearch.store import db
from mixsearch.store.generation_cache import GenerationCache

INITIAL_SCAN_S_PER_ROW = 3e-7  # refined by each scan


class PresentIds:
    """Presence checks of one store's FAISS ids."""

    def __init__(self) -> None:
        self._cache: GenerationCache[np.ndarray] = GenerationCache(
            _id_bitmap, INITIAL_SCAN_S_PER_ROW
        )

    def unknown(
        self, conn: sqlite3.Connection, generation: int, count: int, ids: np.ndarray
    ) -> list[int]:
        """Those of ``ids`` that are not documents now (the store's index is at ``generation``,
        with ``count`` documents), each once, in order of first appearance."""
        bitmap = self._cache.usable(conn, generation, count)
        if bitmap is None:
            t0 = time.perf_counter()
            present = set(db.present_ids(conn, ids).tolist())
            self._cache.paid(time.perf_counter() - t0)
            return [i for i in dict.fromkeys(ids.tolist()) if i not in present]
        if not len(ids) or (ids.min() >= 0 and ids.max() < len(bitmap) and bitmap[ids].all()):
            return []
        inside = (ids >= 0) & (ids < len(bitmap))
        known = np.zeros(len(ids), bool)
        known[inside] = bitmap[ids[inside]]
        return list(dict.fromkeys(ids[~known].tolist()))

    def clear(self) -> None:
        self._cache.clear()


def _id_bitmap(conn: sqlite3.Connection, generation: int) -> np.ndarray:
    """bitmap[faiss_id]: whether it is a document (read inside the generation's snapshot)."""
    ids = db.all_ids(conn)
    bitmap = np.zeros(int(ids[-1]) + 1 if len(ids) else 0, bool)
    bitmap[ids] = True
    return bitmap
