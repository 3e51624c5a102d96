"""What a search hit shows, held in memory for one committed generation.

Resolving a query's 10 hits with one SQLite statement cost 111–156 µs at 100k documents inside
`benchmarks/search.py` (under load; RESULTS.md, issue 14): most of a 0.1–0.15 ms FAISS search
again. A `HitTable` holds the same five fields of every document — doc_id, modality code, the
text's first ``TEXT_PREFIX_CHARS`` characters (enough for `rank`'s snippet), image path, metadata
JSON — packed (one joined ``str`` and one offsets array for all rows, so 1M documents cost their
characters plus ~45 bytes each rather than a Python object per value), and answers a lookup with a
few array reads and string slices.

The batch lookup (`HitTable.hits_batch`) has a compiled twin, `_hit_table.c`, built at install
when a C compiler is there: right after a FAISS search has cooled the CPU caches, making 10 `Hit`s
in the interpreter cost ~20–30 µs, most of what the engine added to raw FAISS; compiled, ~2 µs.
Both make the same hits (tests/store/test_hit_table.py compares them).

Loading it is one scan of the document table, so `HitRows` keeps it in a `GenerationCache`: loaded
at once for a long-lived reader that asks (`Store.warm`), otherwise once the SQLite lookups of the
generation have cost as much as loading, and used only while nothing has committed past its
generation; otherwise lookups go to SQLite, which skips documents another process removed since.
"""

from __future__ import annotations

import array
import itertools
import sqlite3
import sys
import time
from collections.abc import Iterable
from types import ModuleType

import numpy as np

from mixsearch.hit import MODALITIES, Hit, snippet
from mixsearch.store import db
from mixsearch.store.generation_cache import GenerationCache

compiled: ModuleType | None
try:  # the optional compiled lookup (see the module docstring)
    from mixsearch.store import _hit_table

    _hit_table.bind(Hit)
    compiled = _hit_table
except ImportError:  # not built here: the Python loop below does the same
    compiled = None

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

    __slots__ = (
        "_arrays",
        "_info",
        "_joined",
        "_modality",
        "_row_of",
        "count",
        "generation",
        "load_s",
    )

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
        # FAISS id → row (-1: none); ids are assigned in order, so without removals the row *is*
        # the id and the map is skipped (one random memory read less per hit)
        self._row_of: array.array | None = None
        if len(ids) and ids[-1] != len(ids) - 1:
            row_of = np.full(int(ids[-1]) + 1, -1, dtype=np.int32)
            row_of[ids] = np.arange(len(ids), dtype=np.int32)
            self._row_of = array.array("i", row_of.tobytes())
        self.count = len(ids)
        self.generation = generation
        # what the compiled lookup reads, in one argument: one attribute read per search
        self._arrays = (
            self._joined,
            self._info,
            self._modality,
            self._row_of,
            self.count,
            MODALITIES,
        )
        self.load_s = time.perf_counter() - t0

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        # CPython keeps 1, 2 or 4 bytes per character: the widest character present decides
        map_bytes = 0 if self._row_of is None else 4 * len(self._row_of)
        arrays = map_bytes + 8 * len(self._info) + len(self._modality)
        return sys.getsizeof(self._joined) + arrays

    def rows(self, faiss_ids: Iterable[int]) -> dict[int, HitRow]:
        """faiss_id → hit row for the ids the table holds (others, e.g. -1 padding, absent)."""
        found: dict[int, HitRow] = {}
        for fid in faiss_ids:
            row = self._row(fid)
            if row >= 0:
                found[fid] = (self._doc_id(row), self._modality[row], *self.details(row))
        return found

    def hits_batch(self, scores: np.ndarray, faiss_ids: np.ndarray) -> list[list[Hit]]:
        """`Hit`s of a batch of FAISS results ([Q, k] scores and ids), compiled when the
        extension is built and the arrays are FAISS's own float32 and int64, else `hits` per
        query."""
        if compiled is not None:
            made = compiled.hits(scores, faiss_ids, self._arrays, self)
            if made is not NotImplemented:
                return made
        return self.hits_python(scores, faiss_ids)

    def hits_python(self, scores: np.ndarray, faiss_ids: np.ndarray) -> list[list[Hit]]:
        """`hits_batch` in the interpreter (what runs without the compiled extension)."""
        rows = zip(scores.tolist(), faiss_ids.tolist(), strict=True)
        return [self.hits(s, i) for s, i in rows]

    def hits(self, scores: list[float], faiss_ids: list[int]) -> list[Hit]:
        """One query's `Hit`s, best first (ids the table lacks, e.g. -1 padding, skipped); each
        decodes its text, image path and metadata from the table when first read."""
        row_of, bound, info, joined = self._row_of, self._bound(), self._info, self._joined
        modality, of_row = self._modality, Hit.of_row
        hits: list[Hit] = []
        for score, fid in zip(scores, faiss_ids, strict=True):
            if 0 <= fid < bound:
                row = fid if row_of is None else row_of[fid]
                if row < 0:
                    continue
                start = info[FIELDS * row]
                doc_id = joined[start : start + info[FIELDS * row + 1]]
                hits.append(of_row(doc_id, score, modality[row], row, self, len(hits) + 1))
        return hits

    def _bound(self) -> int:
        return self.count if self._row_of is None else len(self._row_of)

    def _row(self, fid: int) -> int:
        """The row of FAISS id ``fid``; -1 when the table does not hold it."""
        if not 0 <= fid < self._bound():
            return -1
        return fid if self._row_of is None else self._row_of[fid]

    def _doc_id(self, row: int) -> str:
        start = self._info[FIELDS * row]
        return self._joined[start : start + self._info[FIELDS * row + 1]]

    def details(self, row: int) -> tuple[str | None, str | None, str]:
        """(text prefix, image_path, metadata JSON) of table row ``row``."""
        at = FIELDS * row
        start, n_doc, n_text, n_path, n_meta = self._info[at : at + FIELDS]
        joined = self._joined
        text_at = start + n_doc
        path_at = text_at + max(n_text, 0)
        meta_at = path_at + max(n_path, 0)
        return (
            None if n_text < 0 else joined[text_at:path_at],
            None if n_path < 0 else joined[path_at:meta_at],
            joined[meta_at : meta_at + n_meta],
        )


class HitRows:
    """The hit lookup of one store: from its `HitTable` when valid (`GenerationCache`), else
    one SQLite query."""

    def __init__(self) -> None:
        self._cache: GenerationCache[HitTable] = GenerationCache(HitTable, INITIAL_LOAD_S_PER_ROW)

    @property
    def table(self) -> HitTable | None:
        return self._cache.value

    def clear(self) -> None:
        self._cache.clear()

    def load(self, conn: sqlite3.Connection, generation: int) -> HitTable | None:
        """Load the table of ``generation`` now (None when the database has moved past it)."""
        return self._cache.load(conn, generation)

    def hits(
        self,
        conn: sqlite3.Connection,
        generation: int,
        count: int,
        scores: np.ndarray,
        faiss_ids: np.ndarray,
    ) -> list[list[Hit]]:
        """`Hit`s of a batch of FAISS results ([Q, k] scores and ids, -1 padded) for a store
        whose index is at ``generation`` (``count`` documents): from the table when it is valid,
        else from one SQLite query, which skips documents another process removed since."""
        table = self._cache.usable(conn, generation, count)
        if table is not None:
            return table.hits_batch(scores, faiss_ids)
        score_rows, id_rows = scores.tolist(), faiss_ids.tolist()
        t0 = time.perf_counter()
        rows = db.hit_rows(conn, {fid for row in id_rows for fid in row if fid >= 0})
        self._cache.paid(time.perf_counter() - t0)
        return [hits_of_rows(s, i, rows) for s, i in zip(score_rows, id_rows, strict=True)]


def hits_of_rows(scores: list[float], faiss_ids: list[int], rows: dict[int, tuple]) -> list[Hit]:
    """One query's hits from `db.hit_rows` rows (ids without a row skipped: padding, or removed
    by another process since the index was loaded)."""
    hits: list[Hit] = []
    for score, fid in zip(scores, faiss_ids, strict=True):
        row = rows.get(fid)
        if row is not None:
            doc_id, code, text, image_path, metadata = row
            hit = Hit(doc_id, score, MODALITIES[code], snippet(text), image_path, metadata, 0)
            hit.rank = len(hits) + 1
            hits.append(hit)
    return hits
