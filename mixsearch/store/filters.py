"""Modality and metadata filters resolved to FAISS id sets once per committed generation.

A filtered search used to run a SQLite query for the matching ids and build a FAISS selector on
every call (~40 ms for 40k ids at 100k documents). Here a filter is resolved once per committed
generation of the store the reader has loaded and then reused:

* each modality's ids come from one indexed query and are kept;
* a metadata condition (``where``) is compiled to SQL once and its ids kept, keyed by its
  canonical JSON;
* their combination becomes a `ResolvedFilter`: the sorted ids, a bitmap over the id range and a
  FAISS ``IDSelectorBitmap`` on it (a bit test per candidate, built in microseconds), plus —
  for small filters the planner scores exactly — the gathered vectors.

Snapshot rule: ids come only from rows committed at or before the reader's generation
(``added_gen <= generation``), so a reader never sees documents another process committed after
the index it searches was loaded; everything is dropped when the generation changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from mixsearch.documents import Modality
from mixsearch.errors import BadInputError, StoreInputError
from mixsearch.store import db

MAX_CACHED_FILTERS = 64
VECTOR_CACHE_BYTES = 256 * 1024**2  # gathered vectors of small filters, all filters together


@dataclass(frozen=True)
class FilterKey:
    """A filter in canonical form: the same conditions give the same key."""

    modalities: tuple[int, ...] | None
    where: str | None  # canonical JSON of the metadata conditions

    @classmethod
    def of(cls, modality: Any, where: dict | None) -> FilterKey:
        codes = None
        if modality is not None:
            items = list(modality) if isinstance(modality, list | tuple | set) else [modality]
            try:
                codes = tuple(sorted({int(Modality.parse(m)) for m in items}))
            except ValueError as err:
                raise StoreInputError(f"filter: {err}") from None
            if not codes:
                raise BadInputError("modality filter: give at least one of text, image, image+text")
        text = json.dumps(where, sort_keys=True, default=str) if where else None
        return cls(codes, text)


class ResolvedFilter:
    """The documents one filter allows in one generation: ids, bitmap and FAISS selector."""

    __slots__ = ("_exact", "bitmap", "count", "ids", "selector")

    def __init__(self, mask: np.ndarray) -> None:
        ids = np.flatnonzero(mask).astype(np.int64)
        ids.setflags(write=False)
        self.ids = ids
        self.count = len(ids)
        # FAISS reads bit i of the bitmap as (bitmap[i >> 3] >> (i & 7)) & 1: little-endian bits.
        self.bitmap = np.packbits(mask, bitorder="little")
        # The selector holds a raw pointer into self.bitmap: both live and die together here.
        self.selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(self.bitmap))
        self._exact: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def vector_bytes(self) -> int:
        return 0 if self._exact is None else self._exact[1].nbytes

    def exact_rows(
        self, gather: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the allowed documents, gathered once, for exact scoring."""
        if self._exact is None:
            ids, vectors = gather(self.ids)
            self._exact = (ids, np.ascontiguousarray(vectors, dtype=np.float32))
        return self._exact

    def drop_vectors(self) -> None:
        self._exact = None


class FilterCache:
    """Resolved filters of one generation, least recently used dropped first."""

    def __init__(self) -> None:
        self._generation: int | None = None
        self._modality_ids: dict[int, np.ndarray] = {}
        self._where_ids: dict[str, np.ndarray] = {}
        self._resolved: OrderedDict[FilterKey, ResolvedFilter] = OrderedDict()
        # a modality filter as the caller wrote it ("image", Modality.IMAGE) → its resolved
        # filter: the common filter skips building its canonical key on every search
        self._by_modality: dict[Any, ResolvedFilter] = {}

    def clear(self) -> None:
        self._modality_ids.clear()
        self._where_ids.clear()
        self._resolved.clear()
        self._by_modality.clear()

    def resolve(
        self,
        conn: sqlite3.Connection,
        *,
        generation: int,
        id_bound: int,
        modality: Any = None,
        where: dict | None = None,
    ) -> ResolvedFilter:
        """The filter's documents committed at or before ``generation`` (ids < ``id_bound``)."""
        if generation != self._generation:
            self.clear()
            self._generation = generation
        simple = not where and isinstance(modality, str | Modality)
        if simple and modality in self._by_modality:
            return self._by_modality[modality]
        key = FilterKey.of(modality, where)
        found = self._resolved.get(key)
        if found is not None:
            self._resolved.move_to_end(key)
            return found
        mask = np.ones(id_bound, dtype=bool)
        if key.modalities is not None:
            mask &= self._mask(self._modalities(conn, generation, key.modalities), id_bound)
        if key.where is not None:
            mask &= self._mask(self._where(conn, generation, key.where, where or {}), id_bound)
        if key.modalities is None and key.where is None:
            mask &= self._mask(self._all(conn, generation), id_bound)
        resolved = ResolvedFilter(mask)
        self._resolved[key] = resolved
        if len(self._resolved) > MAX_CACHED_FILTERS:
            self._resolved.popitem(last=False)
            self._by_modality.clear()  # it may hold the dropped one
        if simple and len(self._by_modality) < MAX_CACHED_FILTERS:
            self._by_modality[modality] = resolved
        return resolved

    def trim_vectors(self) -> None:
        """Keep gathered vectors within VECTOR_CACHE_BYTES, dropping the oldest filters' first."""
        total = sum(f.vector_bytes for f in self._resolved.values())
        for resolved in list(self._resolved.values()):
            if total <= VECTOR_CACHE_BYTES:
                return
            total -= resolved.vector_bytes
            resolved.drop_vectors()

    @staticmethod
    def _mask(ids: np.ndarray, id_bound: int) -> np.ndarray:
        mask = np.zeros(id_bound, dtype=bool)
        mask[ids[ids < id_bound]] = True
        return mask

    def _modalities(
        self, conn: sqlite3.Connection, generation: int, codes: tuple[int, ...]
    ) -> np.ndarray:
        parts = []
        for code in codes:
            if code not in self._modality_ids:
                self._modality_ids[code] = _ids(
                    conn,
                    "SELECT faiss_id FROM docs WHERE modality = ? AND added_gen <= ?",
                    [code, generation],
                )
            parts.append(self._modality_ids[code])
        return np.concatenate(parts)

    def _where(
        self, conn: sqlite3.Connection, generation: int, text: str, where: dict
    ) -> np.ndarray:
        if text not in self._where_ids:
            clause, params = db.filter_sql(None, where)
            self._where_ids[text] = _ids(
                conn,
                f"SELECT faiss_id FROM docs WHERE added_gen <= ? AND {clause}",
                [generation, *params],
            )
        return self._where_ids[text]

    @staticmethod
    def _all(conn: sqlite3.Connection, generation: int) -> np.ndarray:
        return _ids(conn, "SELECT faiss_id FROM docs WHERE added_gen <= ?", [generation])


def _ids(conn: sqlite3.Connection, sql: str, params: list[Any]) -> np.ndarray:
    rows = conn.execute(sql, params).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
