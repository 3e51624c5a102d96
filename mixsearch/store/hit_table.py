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

import array
import math
import sqlite3
import sys
import time
from collections.abc import Iterable, Sequence

import numpy as np

from mixsearch.store import db

TEXT_PREFIX_CHARS = 201  # one more than rank.SNIPPET_CHARS: tells a snippet from a whole text
HIT_ROWS_SQL = (
    "SELECT faiss_id, doc_id, modality, substr(text, 1, ?), image_path, metadata FROM docs "
    "WHERE faiss_id > ? ORDER BY faiss_id LIMIT ?"
)
INITIAL_LOAD_S_PER_ROW = (
    4e-6  # 100k rows in 0.38–0.47 s (benchmarks/search.py, under load); refined per load
)

HitRow = tuple  # (doc_id, modality code, text prefix, image_path, metadata JSON)


class StringColumn:
    """Many optional strings as one joined ``str``, their end offsets and a None mask.

    Plain `array.array`/`bytearray` rather than numpy: a lookup reads ~10 rows, where each numpy
    call's fixed cost (µs) would exceed the whole lookup; indexing these costs tens of ns."""

    __slots__ = ("_ends", "_joined", "_null")

    def __init__(self, chunks: list[tuple[str, np.ndarray, bytearray]]) -> None:
        """Join the parts `StringColumn.part` made of consecutive chunks of rows."""
        self._joined = "".join(joined for joined, _, _ in chunks)
        lengths = [length for _, length, _ in chunks]
        ends = np.cumsum(np.concatenate(lengths) if lengths else np.empty(0, np.int64))
        self._ends = array.array("q", ends.astype(np.int64).tobytes())
        null = bytearray().join(n for _, _, n in chunks)
        self._null = null if any(null) else None

    @staticmethod
    def part(values: Sequence[str | None]) -> tuple[str, np.ndarray, bytearray]:
        """One chunk's strings joined, their lengths and None mask: the chunk's Python strings
        can then go, so loading peaks near the table's own size."""
        filled: list[str] = [v or "" for v in values]
        lengths = np.fromiter(map(len, filled), np.int64, len(filled))
        return "".join(filled), lengths, bytearray(v is None for v in values)

    def get(self, row: int) -> str | None:
        if self._null is not None and self._null[row]:
            return None
        return self._joined[self._ends[row - 1] if row else 0 : self._ends[row]]

    @property
    def nbytes(self) -> int:
        # CPython keeps 1, 2 or 4 bytes per character: the widest character of a column decides
        null = 0 if self._null is None else len(self._null)
        return sys.getsizeof(self._joined) + self._ends.itemsize * len(self._ends) + null


class HitTable:
    """Every document's hit fields at ``generation``, by FAISS id."""

    __slots__ = (
        "_doc_id",
        "_metadata",
        "_modality",
        "_path",
        "_row_of",
        "_text",
        "generation",
        "load_s",
        "count",
    )

    def __init__(self, conn: sqlite3.Connection, generation: int) -> None:
        """Read the table from ``conn``, which must be inside the snapshot of ``generation``."""
        t0 = time.perf_counter()
        id_parts: list[np.ndarray] = []
        modality = bytearray()
        parts: list[list] = [[], [], [], []]  # doc_id, text prefix, image_path, metadata
        for chunk in db.chunks_by_id(conn, HIT_ROWS_SQL, (TEXT_PREFIX_CHARS,)):
            fids, doc_ids, codes, texts, paths, metadata = zip(*chunk, strict=True)
            id_parts.append(np.asarray(fids, dtype=np.int64))
            modality += bytes(codes)
            for column, values in zip(parts, (doc_ids, texts, paths, metadata), strict=True):
                column.append(StringColumn.part(values))
        ids = np.concatenate(id_parts) if id_parts else np.empty(0, np.int64)
        # FAISS id → row (-1: none); ids are dense (assigned in order, gaps only from removals)
        row_of = np.full(int(ids[-1]) + 1 if len(ids) else 0, -1, dtype=np.int32)
        row_of[ids] = np.arange(len(ids), dtype=np.int32)
        self._row_of = array.array("i", row_of.tobytes())
        self._modality = bytes(modality)
        self._doc_id, self._text, self._path, self._metadata = (StringColumn(p) for p in parts)
        self.count = len(ids)
        self.generation = generation
        self.load_s = time.perf_counter() - t0

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        columns = (self._doc_id, self._text, self._path, self._metadata)
        return 4 * len(self._row_of) + len(self._modality) + sum(c.nbytes for c in columns)

    def rows(self, faiss_ids: Iterable[int]) -> dict[int, HitRow]:
        """faiss_id → hit row for the ids the table holds (others, e.g. -1 padding, absent)."""
        if isinstance(faiss_ids, np.ndarray):
            faiss_ids = faiss_ids.tolist()
        row_of, bound = self._row_of, len(self._row_of)
        found: dict[int, HitRow] = {}
        # per hit, not per column: for ~10 rows, list comprehensions cost more than calls
        for fid in faiss_ids:
            row = row_of[fid] if 0 <= fid < bound else -1
            if row >= 0:
                found[fid] = (
                    self._doc_id.get(row),
                    self._modality[row],
                    self._text.get(row),
                    self._path.get(row),
                    self._metadata.get(row),
                )
        return found


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
        table = self._table
        if (
            table is not None
            and generation == self._generation
            and (db.data_version(conn) == self._data_version or self._current(conn, generation))
        ):
            return table.rows(faiss_ids)
        if generation != self._generation:
            self._table, self._generation, self._sqlite_s = None, generation, 0.0
        if self._table is not None:
            # Another process committed past our generation: SQLite from now on (a reader of a
            # newer generation reopens the store; generations never go back).
            self._table, self._sqlite_s = None, -math.inf
        if self._sqlite_s >= count * self._load_s_per_row:
            table = self.load(conn, generation)
            if table is not None:
                return table.rows(faiss_ids)
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
