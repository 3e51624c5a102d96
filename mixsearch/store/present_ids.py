"""Which FAISS ids are documents, for `Store.vectors_for`.

The vector file keeps a removed document's row until `compact` (then a hole, read as zeros), so
its row count says nothing about presence: the document table does. Asking SQLite costs ~2 µs per
id (`present_ids`: 0.2 ms for 100 ids, 1.9 ms for 1000, under load) — several times the gather
itself, and exact re-scoring asks on every search. So, as the hit table does (`hit_table`), a
bitmap of the loaded generation's ids is built once the SQLite checks of that generation have
cost as much as one scan of the ids is estimated to (the ski-rental bound), and used while the
committed generation is still that one (nothing committed since: `db.CommitWatch`, one small
read; else one SQLite read of the generation); otherwise SQLite answers, which also sees
documents another process removed since.
"""

from __future__ import annotations

import sqlite3
import time

import numpy as np

from mixsearch.store import db

INITIAL_SCAN_S_PER_ROW = 3e-7  # refined by each scan


class PresentIds:
    """Presence checks of one store's FAISS ids."""

    def __init__(self) -> None:
        self._bitmap: np.ndarray | None = None
        self._generation: int | None = None  # the generation the bitmap and counter belong to
        self._sqlite_s = 0.0  # spent on SQLite checks in this generation
        self._scan_s_per_row = INITIAL_SCAN_S_PER_ROW
        self._watch: db.CommitWatch | None = None  # has anything committed since the last check?

    def unknown(
        self, conn: sqlite3.Connection, generation: int, count: int, ids: np.ndarray
    ) -> list[int]:
        """Those of ``ids`` that are not documents now (the store's index is at ``generation``,
        with ``count`` documents), each once, in order of first appearance."""
        bitmap = self._usable_bitmap(conn, generation, count)
        if bitmap is None:
            t0 = time.perf_counter()
            present = set(db.present_ids(conn, ids).tolist())
            self._sqlite_s += time.perf_counter() - t0
            return [i for i in dict.fromkeys(ids.tolist()) if i not in present]
        if not len(ids) or (ids.min() >= 0 and ids.max() < len(bitmap) and bitmap[ids].all()):
            return []
        inside = (ids >= 0) & (ids < len(bitmap))
        known = np.zeros(len(ids), bool)
        known[inside] = bitmap[ids[inside]]
        return list(dict.fromkeys(ids[~known].tolist()))

    def _usable_bitmap(
        self, conn: sqlite3.Connection, generation: int, count: int
    ) -> np.ndarray | None:
        if (
            self._bitmap is not None
            and generation == self._generation
            and self._watch is not None
            and self._watch.unchanged()
        ):
            return self._bitmap
        if not conn.in_transaction:  # inside a read snapshot, the header may be newer than it
            self._watch = self._watch or db.CommitWatch(conn)
            self._watch.mark()  # before the read it vouches for
        if db.committed_generation(conn) != generation:
            # another process committed: SQLite sees its removals, the bitmap does not (and the
            # watch, marked after that commit, would vouch for it from now on)
            self._bitmap = None
            return None
        if generation != self._generation:
            self._bitmap, self._generation, self._sqlite_s = None, generation, 0.0
        if self._bitmap is None and self._sqlite_s >= count * self._scan_s_per_row:
            self._bitmap = self._scan(conn, count)
        return self._bitmap

    def _scan(self, conn: sqlite3.Connection, count: int) -> np.ndarray:
        t0 = time.perf_counter()
        # read after the generation check: a commit in between makes it the newer state (right
        # for this call), and the next check sees the generation moved and leaves it
        ids = db.all_ids(conn)
        bitmap = np.zeros(int(ids[-1]) + 1 if len(ids) else 0, bool)
        bitmap[ids] = True
        if count:
            self._scan_s_per_row = (time.perf_counter() - t0) / count
        return bitmap

    def clear(self) -> None:
        self._bitmap, self._generation = None, None
        if self._watch is not None:
            self._watch.close()
            self._watch = None
