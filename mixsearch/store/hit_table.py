"""What a search hit shows, held in memory for one committed generation.

Resolving a query's 10 hits with one SQLite statement cost 145–167 µs at 100k documents (under
load; RESULTS.md, issue 14): most of a 0.13–0.17 ms FAISS search again. A `HitTable` holds the
same five fields of every document — doc_id, modality code, the text's first
``TEXT_PREFIX_CHARS`` characters (enough for `rank`'s snippet), image path, metadata JSON — as
compact columns (each string column one joined ``str`` plus end offsets, so 1M documents cost a
few bytes over their characters rather than a Python object per value), and answers a lookup with
a few numpy calls and string slices.

Loading it is one scan of the document table, so `Store` loads it only when that pays off (see
`HitRows`): at once for a long-lived reader that asks (`Store.warm`), otherwise once the SQLite
lookups of the generation have cost as much as loading is estimated to, so a one-shot search never
pays for a scan and a busy reader soon stops paying per query (at most twice the better of the two
choices in hindsight, the ski-rental bound).

Validity: a table holds the rows of one generation, read in one SQLite snapshot, and is used only
while the store's loaded generation is that one *and* the database has not moved past it (checked
per lookup with ``PRAGMA data_version``, which changes when another connection commits); otherwise
lookups go to SQLite, which skips documents another process removed since, as before.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import time
from collections.abc import Iterable

import numpy as np

from mixsearch.store import db

TEXT_PREFIX_CHARS = 201  # one more than rank.SNIPPET_CHARS: tells a snippet from a whole text
HIT_ROWS_SQL = (
    "SELECT faiss_id, doc_id, modality, substr(text, 1, ?), image_path, metadata FROM docs "
    "WHERE faiss_id > ? ORDER BY faiss_id LIMIT ?"
)
INITIAL_LOAD_S_PER_ROW = 1.5e-6  # measured at 100k (benchmarks/search.py); refined per load

HitRow = tuple  # (doc_id, modality code, text prefix, image_path, metadata JSON)


class StringColumn:
    """Many optional strings as one joined ``str`` and their end offsets."""

    __slots__ = ("_ends", "_joined", "_null", "_starts")

    def __init__(self, values: list[str | None]) -> None:
        null = [v is None for v in values]
        filled = [v or "" for v in values] if any(null) else values
        ends = np.cumsum(np.fromiter(map(len, filled), np.int64, len(filled)), dtype=np.int64)
        self._joined = "".join(filled)  # type: ignore[arg-type]
        self._ends = ends
        self._starts = np.concatenate([np.zeros(1, np.int64), ends[:-1]])
        self._null = np.asarray(null, dtype=bool) if any(null) else None

    def take(self, rows: np.ndarray) -> list[str | None]:
        joined = self._joined
        found: list[str | None] = [
            joined[s:e]
            for s, e in zip(self._starts[rows].tolist(), self._ends[rows].tolist(), strict=True)
        ]
        if self._null is not None:
            for i in np.flatnonzero(self._null[rows]).tolist():
                found[i] = None
        return found

    @property
    def nbytes(self) -> int:
        # CPython keeps 1, 2 or 4 bytes per character: the widest character of a column decides
        null = 0 if self._null is None else self._null.nbytes
        return sys.getsizeof(self._joined) + self._ends.nbytes + self._starts.nbytes + null


class HitTable:
    """Every document's hit fields at ``generation``, sorted by FAISS id."""

    __slots__ = ("_columns", "_ids", "_modality", "generation", "load_s")

    def __init__(self, conn: sqlite3.Connection, generation: int) -> None:
        """Read the table from ``conn``, which must be inside the snapshot of ``generation``."""
        t0 = time.perf_counter()
        ids: list[int] = []
        columns: list[list] = [[], [], [], [], []]
        for chunk in db.chunks_by_id(conn, HIT_ROWS_SQL, (TEXT_PREFIX_CHARS,)):
            ids.extend(r[0] for r in chunk)
            for c, column in enumerate(columns):
                column.extend(r[c + 1] for r in chunk)
        self._ids = np.asarray(ids, dtype=np.int64)
        self._modality = np.asarray(columns[1], dtype=np.uint8)
        self._columns = [StringColumn(columns[c]) for c in (0, 2, 3, 4)]
        self.generation = generation
        self.load_s = time.perf_counter() - t0

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def nbytes(self) -> int:
        return self._ids.nbytes + self._modality.nbytes + sum(c.nbytes for c in self._columns)

    def rows(self, faiss_ids: Iterable[int]) -> dict[int, HitRow]:
        """faiss_id → hit row for the ids the table holds (others, e.g. -1 padding, absent)."""
        wanted = np.fromiter(faiss_ids, dtype=np.int64)
        pos = np.searchsorted(self._ids, wanted)
        pos[pos >= len(self._ids)] = 0
        held = self._ids[pos] == wanted if len(self._ids) else np.zeros(len(wanted), bool)
        rows, wanted = pos[held], wanted[held]
        doc_ids, texts, paths, metadata = (c.take(rows) for c in self._columns)
        return dict(
            zip(
                wanted.tolist(),
                zip(doc_ids, self._modality[rows].tolist(), texts, paths, metadata, strict=True),
                strict=True,
            )
        )


class HitRows:
    """The hit lookup of one store: from its `HitTable` when valid, else one SQLite query."""

    def __init__(self) -> None:
        self._table: HitTable | None = None
        self._generation: int | None = None  # the generation the counters below belong to
        self._data_version: int | None = None  # the database's, when the table was checked
        self._sqlite_s = 0.0  # spent on SQLite lookups in this generation
        self._load_s_per_row = INITIAL_LOAD_S_PER_ROW

    @property
    def table(self) -> HitTable | None:
        return self._table

    def clear(self) -> None:
        self._table = None
        self._generation = None

    def lookup(
        self, conn: sqlite3.Connection, generation: int, count: int, faiss_ids: Iterable[int]
    ) -> dict[int, HitRow]:
        """Hit rows of ``faiss_ids`` for a store whose index is at ``generation`` (``count``
        documents); loads the table when the lookups so far have cost as much as loading."""
        if generation != self._generation:
            self._table, self._generation, self._sqlite_s = None, generation, 0.0
        if self._table is not None:
            if self._current(conn, generation):
                return self._table.rows(faiss_ids)
            # Another process committed past our generation: SQLite from now on (a reader of a
            # newer generation reopens the store; generations never go back).
            self._table, self._sqlite_s = None, -math.inf
        if self._table is None and self._sqlite_s >= count * self._load_s_per_row:
            if self.load(conn, generation) is not None:
                return self._table.rows(faiss_ids)  # type: ignore[union-attr]
        t0 = time.perf_counter()
        found = db.hit_rows(conn, faiss_ids)
        self._sqlite_s += time.perf_counter() - t0
        return found

    def load(self, conn: sqlite3.Connection, generation: int) -> HitTable | None:
        """Load the table of ``generation``; None when the database has moved past it (another
        process committed: the SQLite lookups then stay right, a table would not)."""
        in_snapshot = conn.in_transaction
        if not in_snapshot:
            conn.execute("BEGIN")
        try:
            if db.committed_generation(conn) != generation:
                return None
            table = HitTable(conn, generation)
            self._data_version = db.data_version(conn)
        finally:
            if not in_snapshot:
                conn.execute("COMMIT")
        self._table, self._generation = table, generation
        if len(table):
            self._load_s_per_row = table.load_s / len(table)
        return table

    def _current(self, conn: sqlite3.Connection, generation: int) -> bool:
        version = db.data_version(conn)
        if version == self._data_version:
            return True
        # Another connection committed something: a setting (still current) or a generation.
        if db.committed_generation(conn) != generation:
            return False
        self._data_version = version
        return True
