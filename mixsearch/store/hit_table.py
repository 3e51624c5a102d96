"""What a search hit shows, held in memory for one committed generation.

Resolving a query's 10 hits with one SQLite statement cost 111–156 µs at 100k documents inside
`benchmarks/search.py` (under load; RESULTS.md, issue 14): most of a 0.1–0.15 ms FAISS search
again. A `HitTable` holds the same five fields of every document — doc_id, modality code, the
text's first ``TEXT_PREFIX_CHARS`` characters (enough for `rank`'s snippet), image path, metadata
JSON — packed (one joined ``str`` and one offsets array for all rows, so 1M documents cost their
characters plus ~45 bytes each rather than a Python object per value), and answers a lookup with a
few array reads and string slices.

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
import itertools
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
INITIAL_LOAD_S_PER_ROW = (
    4e-6  # 100k rows in 0.38–0.47 s (benchmarks/search.py, under load); refined per load
)

HitRow = tuple  # (doc_id, modality code, text prefix, image_path, metadata JSON)


FIELDS = 5  # per row in `HitTable._info`: start, then the lengths of doc_id, text, path, metadata


def _packed_chunk(chunk: list[tuple]) -> tuple[np.ndarray, bytes, str, np.ndarray]:
    """(FAISS ids, modality codes, the rows' four strings one after another, per row: [length
    of all four, then each one's length or -1 for None]) of one chunk of `HIT_ROWS_SQL` rows;
    the chunk's Python strings can then go, so loading peaks near the table's own size."""
    fids, doc_ids, codes, texts, paths, metadata = zip(*chunk, strict=True)
    columns = [[v or "" for v in c] for c in (doc_ids, texts, paths, metadata)]
    lengths = np.stack([np.fromiter(map(len, c), np.int64, len(c)) for c in columns], axis=1)
    nulls = np.stack([[v is None for v in c] for c in (doc_ids, texts, paths, metadata)], axis=1)
    joined = "".join(itertools.chain.from_iterable(zip(*columns, strict=True)))
    info = np.concatenate([lengths.sum(axis=1, keepdims=True), np.where(nulls, -1, lengths)], 1)
    return np.asarray(fids, dtype=np.int64), bytes(codes), joined, info


class HitTable:
    """Every document's hit fields at ``generation``, by FAISS id.

    One row's four strings lie next to each other in one joined ``str``, and its start and field
    lengths next to each other in one array, so a hit touches ~4 cache lines (a lookup of 10
    hits is memory-bound: a column-per-field layout touched ~11 per hit and was no faster than
    SQLite). Plain `array.array`, not numpy: per element, numpy's call overhead exceeds it all."""

    __slots__ = ("_info", "_joined", "_modality", "_row_of", "count", "generation", "load_s")

    def __init__(self, conn: sqlite3.Connection, generation: int) -> None:
        """Read the table from ``conn``, which must be inside the snapshot of ``generation``."""
        t0 = time.perf_counter()
        chunks = [
            _packed_chunk(c) for c in db.chunks_by_id(conn, HIT_ROWS_SQL, (TEXT_PREFIX_CHARS,))
        ]
        ids = np.concatenate([c[0] for c in chunks]) if chunks else np.empty(0, np.int64)
        info = np.concatenate([c[3] for c in chunks]) if chunks else np.empty((0, FIELDS), np.int64)
        info[:, 0] = np.cumsum(info[:, 0]) - info[:, 0]  # each row's start in the joined str
        self._info = array.array("q", np.ascontiguousarray(info).tobytes())
        self._joined = "".join(c[2] for c in chunks)
        self._modality = b"".join(c[1] for c in chunks)
        # FAISS id → row (-1: none); ids are dense (assigned in order, gaps only from removals)
        row_of = np.full(int(ids[-1]) + 1 if len(ids) else 0, -1, dtype=np.int32)
        row_of[ids] = np.arange(len(ids), dtype=np.int32)
        self._row_of = array.array("i", row_of.tobytes())
        self.count = len(ids)
        self.generation = generation
        self.load_s = time.perf_counter() - t0

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        # CPython keeps 1, 2 or 4 bytes per character: the widest character present decides
        arrays = 4 * len(self._row_of) + 8 * len(self._info) + len(self._modality)
        return sys.getsizeof(self._joined) + arrays

    def rows(self, faiss_ids: Iterable[int]) -> dict[int, HitRow]:
        """faiss_id → hit row for the ids the table holds (others, e.g. -1 padding, absent)."""
        if isinstance(faiss_ids, np.ndarray):
            faiss_ids = faiss_ids.tolist()
        row_of, bound, info, joined = self._row_of, len(self._row_of), self._info, self._joined
        found: dict[int, HitRow] = {}
        for fid in faiss_ids:
            row = row_of[fid] if 0 <= fid < bound else -1
            if row < 0:
                continue
            at = FIELDS * row
            start, n_doc, n_text, n_path, n_meta = info[at : at + FIELDS]
            text_at = start + n_doc
            path_at = text_at + max(n_text, 0)
            meta_at = path_at + max(n_path, 0)
            found[fid] = (
                joined[start:text_at],
                self._modality[row],
                None if n_text < 0 else joined[text_at:path_at],
                None if n_path < 0 else joined[path_at:meta_at],
                joined[meta_at : meta_at + n_meta],
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
