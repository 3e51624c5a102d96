"""The unified store: one directory holding a FAISS index, a SQLite document table and a manifest.

`Store` is the front: creation, opening, input checks and the public calls. Behind it,
`commits.Commits` owns the committed state (SQLite meta and rows, generations, FAISS checkpoints,
the write lock; its docstring has the layout and the commit protocol) and `live_index.LiveIndex`
the searchable part (the loaded index, removed-id mask, filters and hit table).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from mixsearch import search_arrays
from mixsearch.documents import DocRecord
from mixsearch.errors import (
    StoreCorruptError,
    StoreError,
    StoreInputError,
    StoreNotFoundError,
)
from mixsearch.hit import Hit
from mixsearch.store import db, layout, validation
from mixsearch.store import index_spec as spec_mod
from mixsearch.store.commits import FORMAT_VERSION, Commits, Creation, StoreDamagedError
from mixsearch.store.filter_partitions import FilterPartition, PartitionSource
from mixsearch.store.filters import ResolvedFilter
from mixsearch.store.hit_table import HitTable
from mixsearch.store.integrity import IntegrityReport, StoreSnapshot, check_store
from mixsearch.store.layout import DB_NAME
from mixsearch.store.live_index import LiveIndex
from mixsearch.store.present_ids import PresentIds
from mixsearch.store.verified_segments import VerifiedSegments

__all__ = ["FORMAT_VERSION", "Store", "StoreDamagedError", "StoreError"]

DEFAULT_CHECKPOINT_ROWS = 10_000


class Store:
    """A document store with one FAISS index; see `commits` for the commit protocol."""

    def __init__(
        self,
        path: Path,
        *,
        readonly: bool = False,
        load_index: bool = True,
        verified: VerifiedSegments | None = None,
    ) -> None:
        self.path = path
        self.readonly = readonly  # opened by a read command: nothing on disk is ever changed
        self._live = LiveIndex()
        self._present = PresentIds()  # which FAISS ids are documents (`vectors_for`)
        self._commits = Commits(
            path, self._live, readonly=readonly, skip_index=not load_index, verified=verified
        )

    # ---- creation and opening -------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        dim: int,
        index_spec: str = "auto",
        extra: dict | None = None,
        memory_budget_bytes: int = spec_mod.DEFAULT_MEMORY_BUDGET,
        checkpoint_rows: int = DEFAULT_CHECKPOINT_ROWS,
        claimed: Any = None,
    ) -> Store:
        """Create an empty store in a new or empty directory, in one SQLite commit.

        Args:
            path: The store directory (created if missing; must be empty if it exists).
            dim: Vector dimension.
            index_spec: A FAISS factory string, or ``"auto"`` (chosen at the first commit from
                the number of vectors and ``memory_budget_bytes``).
            extra: JSON-able settings kept in the manifest (the engine's `StoreSettings`).
            memory_budget_bytes: What ``auto`` may spend on the index.
            checkpoint_rows: A FAISS checkpoint is rewritten once the rows changed since the
                last one exceed max(checkpoint_rows, n/8).
            claimed: The lock `layout.claim_new_store` returned to a caller that put files in
                the directory first (the engine's alignment); the store then holds it until
                `release_lock`. Without it, the directory is claimed and released here.

        Returns:
            The open store.

        Raises:
            StoreExistsError: ``path`` exists and is not an empty directory.
            StoreLockedError: another process is creating the store.
            StoreCorruptError: ``path`` holds an interrupted creation (`verify --repair`).
            StoreInputError: ``dim`` is not a positive integer, or ``extra`` is not JSON-able.
            IndexSpecError: ``index_spec`` is invalid for ``dim``.
        """
        path = Path(path)
        if not isinstance(dim, int) or dim < 1:
            raise StoreInputError(f"{path}: dimension must be a positive integer, got {dim!r}")
        spec_mod.validate_spec(index_spec, dim)
        validation.json_or_error(extra or {}, f"{path}: manifest extra")
        lock = claimed if claimed is not None else layout.claim_new_store(path)
        try:
            asked = Creation(dim, index_spec, extra or {}, memory_budget_bytes, checkpoint_rows)
            store = cls._create_claimed(path, lock, asked)
        except BaseException:
            if claimed is None:
                lock.close()
            raise
        if claimed is None:
            store.release_lock()
        return store

    @classmethod
    def _create_claimed(cls, path: Path, lock: Any, asked: Creation) -> Store:
        store = cls(path)
        try:
            store._commits.write_initial_meta(lock, asked)
        except BaseException:
            store._commits.held_lock = None  # the caller owns the lock on failure
            store._commits.close_files()
            raise
        return store

    def release_lock(self) -> None:
        """Let other writers in after a creation (see `create`'s ``claimed``)."""
        self._commits.release_lock()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        expect: dict | None = None,
        readonly: bool = False,
        load_index: bool = True,
        replacing: Store | None = None,
    ) -> Store:
        """Open an existing store at its last committed state.

        Args:
            path: The store directory.
            expect: ``extra`` values that must match what the store was built with.
            readonly: For read commands: works on read-only media and never writes a file.
            load_index: False opens the committed rows only, no index (`verify --repair`).
            replacing: The open store of this directory that this one replaces (a long-lived
                reader reopening after another process committed): vector-file segments it
                already hashed are not hashed again, only those committed since
                (`store/verified_segments.py`; a compacted or replaced file is hashed whole).

        Returns:
            The open store (files of uncommitted generations are cleaned up when no writer is
            busy and the store is not opened read-only).

        Raises:
            StoreNotFoundError: ``path`` is not a store.
            StoreCorruptError: the document table or the committed index file is damaged
                (`StoreDamagedError`, naming `mixsearch verify --repair`), or a creation was
                interrupted.
            StoreVersionError: another storage format.
            StoreSettingsError: an ``expect`` value differs.
            StoreError: a writer on a read-only store.
        """
        path = Path(path)
        state = layout.store_state(path)
        if state is layout.StoreState.INTERRUPTED:
            raise layout.interrupted_error(path)
        if state is layout.StoreState.DAMAGED:
            raise StoreCorruptError(layout.damaged_message(path))
        if not (path / DB_NAME).is_file():
            raise StoreNotFoundError(f"{path}: not a mixsearch store (no {DB_NAME})")
        if not readonly:
            validation.refuse_unwritable(path)
        try:
            verified = None if replacing is None else replacing._commits.vectors.verified.copy()
            store = cls(path, readonly=readonly, load_index=load_index, verified=verified)
        except sqlite3.DatabaseError as err:
            raise StoreCorruptError(
                f"{path}: cannot read its document table {DB_NAME} ({err})"
            ) from None
        try:
            commits = store._commits
            commits.load()
            commits.check_format()
            commits.check_expected(expect or {})
            if not readonly:
                commits.clean_stale_files_if_unlocked()
        except sqlite3.DatabaseError as err:
            store._commits.close_files()
            raise StoreCorruptError(
                f"{path}: cannot read its document table {DB_NAME} ({err})"
            ) from None
        except BaseException:
            store._commits.close_files()
            raise
        return store

    # ---- properties -------------------------------------------------------------------------

    @functools.cached_property
    def dim(self) -> int:
        # fixed at creation; cached because every search checks its queries against it
        return self._commits.dim

    def __len__(self) -> int:
        return int(self._commits.meta["count"])

    @property
    def generation(self) -> int:
        return int(self._commits.meta["generation"])

    @property
    def index(self) -> faiss.Index | None:
        """The live FAISS index (read-only use: benchmarks compare against it)."""
        return self._live.index

    @property
    def is_exact(self) -> bool:
        return self._live.traits.exact

    @property
    def is_lossy(self) -> bool:
        return self._live.traits.lossy

    @property
    def traits(self) -> spec_mod.IndexTraits:
        """Kind of the live index: exact, lossy, hnsw, nlist."""
        return self._live.traits

    @property
    def search_params(self) -> dict[str, int]:
        """Stored (tuned) parameters, else the defaults for the index kind."""
        return self._commits.search_params()

    @property
    def manifest(self) -> dict[str, Any]:
        return self._commits.manifest

    # ---- writing ----------------------------------------------------------------------------

    def add(self, records: Sequence[DocRecord], vectors: np.ndarray) -> None:
        """Add documents in one atomic commit.

        Args:
            records: One `DocRecord` per row, with unique, new doc_ids.
            vectors: Float array [len(records), dim]; rows are renormalised if needed.

        Raises:
            StoreInputError: a doc_id already stored or repeated, a shape mismatch, zero or
                non-finite vectors, metadata that is not JSON — nothing is added.
            StoreLockedError: another process keeps writing the store.
        """
        records, vectors = validation.checked_batch(self.path, self.dim, records, vectors)
        if not records:
            return
        with self._commits.writing():
            existing = db.faiss_ids_of(self._commits.conn, [r.doc_id for r in records])
            if existing:
                raise StoreInputError(
                    f"{self.path}: {len(existing)} doc_id(s) already in the store: "
                    f"{validation.names(sorted(existing))}; nothing was added (use upsert to replace)"
                )
            self._commits.commit(records, vectors, removed={})

    def upsert(self, records: Sequence[DocRecord], vectors: np.ndarray) -> None:
        """Replace documents whose doc_id exists and add the others, in one atomic commit.

        Args:
            records: One `DocRecord` per row (doc_ids unique within the batch).
            vectors: Float array [len(records), dim].

        Raises:
            StoreInputError: as `add`, except that existing doc_ids are replaced.
            StoreLockedError: another process keeps writing the store.
        """
        records, vectors = validation.checked_batch(self.path, self.dim, records, vectors)
        if not records:
            return
        with self._commits.writing():
            removed = self._rows_of([r.doc_id for r in records])
            self._commits.commit(records, vectors, removed=removed)

    def remove(self, doc_ids: Sequence[str]) -> int:
        """Remove documents in one commit.

        Args:
            doc_ids: The ids to remove; unknown ones are ignored (see `missing`).

        Returns:
            How many of them were in the store.

        Raises:
            StoreLockedError: another process keeps writing the store.
        """
        with self._commits.writing():
            removed = self._rows_of(list(dict.fromkeys(doc_ids)))
            if removed:
                self._commits.commit([], np.empty((0, self.dim), np.float32), removed=removed)
        return len(removed)

    def set_search_params(self, params: dict) -> None:
        """Persist FAISS search parameters (``nprobe``, ``efSearch``); ``{}`` means defaults."""
        checked = spec_mod.check_search_params(params)
        self._commits.set_meta({"search_params": checked or None})

    def update_extra(self, values: dict) -> None:
        """Merge ``values`` into the manifest's ``extra`` dict (e.g. a new alignment file)."""
        extra = {**self._commits.meta["extra"], **values}
        validation.json_or_error(extra, f"{self.path}: manifest extra")
        self._commits.set_meta({"extra": extra})

    def compact(self, index_spec: str | None = None) -> None:
        """Rebuild the index from the stored vectors (re-resolving ``auto``, or switching to
        ``index_spec``), drop removed ids and their vector rows (a new vector file), then
        VACUUM."""
        with self._commits.writing():
            self._commits.rebuild(index_spec, rewrite_vectors=True)
            self._commits.conn.execute("VACUUM")

    def rebuild(self, index_spec: str | None = None) -> None:
        """Rebuild the index from the stored vectors, switching to ``index_spec`` if given
        (one crash-safe commit; unlike `compact`, no VACUUM of the document table)."""
        with self._commits.writing():
            self._commits.rebuild(index_spec)

    def write_manifest(self) -> None:
        """Rewrite manifest.json from the committed meta (it is a mirror; SQLite is the truth)."""
        with self._commits.writing():
            self._commits.write_manifest()

    def checkpoint(self) -> None:
        """Write the FAISS index file so the next open needs no replay."""
        with self._commits.writing():
            if self._commits.meta["pending_rows"] > 0:
                self._commits.write_checkpoint()

    def close(self) -> None:
        commits = self._commits
        if commits.conn is None:
            return
        try:
            if commits.wrote and commits.meta.get("pending_rows", 0) > 0:
                self.checkpoint()
        finally:
            commits.release_lock()
            commits.close_files()
            commits.conn = None  # type: ignore[assignment]
            self._live.close()
            self._present.clear()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ----------------------------------------------------------------------------

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._commits.conn

    def missing(self, doc_ids: Sequence[str]) -> list[str]:
        found = self.contains(doc_ids)
        return [d for d in dict.fromkeys(doc_ids) if d not in found]

    def contains(self, doc_ids: Sequence[str]) -> set[str]:
        return set(db.faiss_ids_of(self._conn, list(doc_ids)))

    def faiss_ids(self, doc_ids: Sequence[str]) -> dict[str, int]:
        """doc_id → FAISS id for the doc_ids present."""
        return db.faiss_ids_of(self._conn, list(doc_ids))

    def get(self, doc_ids: Sequence[str]) -> list[DocRecord]:
        """Records of the given doc_ids in the given order; unknown ids are skipped."""
        by_doc = db.faiss_ids_of(self._conn, list(doc_ids))
        records = db.records_by_faiss_id(self._conn, by_doc.values())
        return [records[by_doc[d]] for d in doc_ids if d in by_doc]

    def records(self, faiss_ids: Sequence[int] | np.ndarray) -> list[DocRecord]:
        """Records in the order of ``faiss_ids`` (one SQLite query); unknown ids are an error."""
        ids = [int(i) for i in faiss_ids]
        found = db.records_by_faiss_id(self._conn, ids)
        validation.refuse_unknown(self.path, ids, found)
        return [found[i] for i in ids]

    def hits(self, scores: np.ndarray, faiss_ids: np.ndarray) -> list[list[Hit]]:
        """`Hit`s of a batch of FAISS results ([Q, k] scores and ids, -1 padded), best first: from
        the in-memory hit table of the loaded generation when it is loaded and current, else one
        SQLite query (`mixsearch.store.hit_table`); ids no longer stored are skipped."""
        commits = self._commits
        meta = commits.meta
        return self._live.hits.hits(
            commits.conn, meta["generation"], meta["count"], scores, faiss_ids
        )

    @property
    def hit_table(self) -> HitTable | None:
        """The in-memory hit table in use, if loaded (its ``nbytes`` is what it costs)."""
        return self._live.hits.table

    def warm(self) -> None:
        """Load the hit table now rather than when it has paid off, and build a graph store's
        filter partitions on each filter's first search: for long-lived readers (a server, a
        benchmark) that will search this generation many times."""
        if self._live.index is not None:
            self._live.hits.load(self._conn, self.generation)
        self._live.partitions.at_once = True  # a graph store's filters: on their first search

    def vectors_for(self, faiss_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The exact stored vectors [n, dim] in the order of ``faiss_ids``; ids that are not
        documents now (never stored, or removed: their rows stay in the vector file until
        `compact`, then read as zeros) are an error, as in `records`."""
        ids = validation.faiss_id_array(self.path, faiss_ids)
        unknown = self._present.unknown(self._conn, self.generation, len(self), ids)
        if unknown:
            raise StoreInputError(f"{self.path}: unknown FAISS id(s) {validation.names(unknown)}")
        return self._commits.vectors.rows(ids)

    def iter_vectors(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored (faiss_ids, vectors) of documents in chunks of at most 50k rows, in id
        order."""
        for ids in db.iter_ids(self._conn):
            yield ids, self._commits.vectors.rows(ids)

    def all_ids(self) -> np.ndarray:
        """Every document's FAISS id, sorted."""
        return db.all_ids(self._conn)

    def filter_ids(self, *, modality: Any = None, where: dict | None = None) -> np.ndarray:
        """Sorted FAISS ids of documents matching a modality (or list) and metadata conditions.

        ``where`` maps metadata keys to a value (equality) or to ``{"gte"|"gt"|"lte"|"lt": v}``.
        """
        return self.resolve_filter(modality=modality, where=where).ids

    def resolve_filter(self, *, modality: Any = None, where: dict | None = None) -> ResolvedFilter:
        """The filter's documents in the loaded generation: ids, bitmap and FAISS selector,
        resolved once per generation and filter (`mixsearch.store.filters`)."""
        return self._live.filters.resolve(
            self._conn,
            generation=self.generation,
            id_bound=int(self._commits.meta["next_faiss_id"]),
            modality=modality,
            where=where,
        )

    def filter_partition(self, resolved: ResolvedFilter) -> FilterPartition | None:
        """The filter's own IVF index on a graph (HNSW) store, when built and valid for the
        loaded generation (`mixsearch.store.filter_partitions`); built now once the filter's
        widened graph searches have cost as much, or at once after `warm`; else None."""
        if not self._live.traits.hnsw or resolved.count == 0:
            return None
        meta = self._commits.meta
        source = PartitionSource(
            resolved, int(meta["next_faiss_id"]), self.dim, self.present_vectors
        )
        return self._live.partitions.usable(self._conn, int(meta["generation"]), source)

    @property
    def filter_partitions(self) -> dict[str, Any]:
        """What the filter partitions in memory hold: budget, bytes, one entry per partition."""
        return self._live.partitions.stats()

    def filter_vectors(self, resolved: ResolvedFilter) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of a resolved filter's documents for exact scoring, gathered once;
        documents another process removed since this generation are left out."""
        found = resolved.exact_rows(self.present_vectors)
        self._live.filters.trim_vectors()
        return found

    def present_vectors(
        self, faiss_ids: Sequence[int] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of ``faiss_ids`` that are documents now, in their order: what
        exact scoring of candidates reads, where a document removed by another process since
        the index was loaded drops out instead of failing the search."""
        ids = validation.faiss_id_array(self.path, faiss_ids)
        unknown = self._present.unknown(self._conn, self.generation, len(self), ids)
        if unknown:
            ids = ids[~np.isin(ids, unknown)]
        return ids, self._commits.vectors.rows(ids)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        params: dict | None = None,
        allowed_ids: np.ndarray | ResolvedFilter | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw FAISS candidates for query vectors (`mixsearch.rank` turns them into hits).

        Args:
            queries: Float array [Q, dim] (or [dim]) of unit query vectors.
            k: Candidates per query.
            params: FAISS search parameters (``nprobe``, ``efSearch``); default: the stored
                (tuned) ones.
            allowed_ids: Restrict the search to these FAISS ids (an array, or a filter from
                `resolve_filter`) inside FAISS (an ID selector), so results are not
                post-filtered.

        Returns:
            (scores [Q, k], faiss_ids [Q, k]), best first, padded with -1 ids.

        Raises:
            StoreInputError: queries of another dimension.
            IndexSpecError: unknown or invalid search parameters.
        """
        q = self.query_matrix(queries)
        t0 = time.perf_counter()
        found = self._live.search(q, k, self._commits.search_params, params, allowed_ids)
        if isinstance(allowed_ids, ResolvedFilter) and self._live.traits.hnsw:
            # a filtered graph search pays towards the filter's partition (`filter_partition`)
            self._live.partitions.paid(allowed_ids, time.perf_counter() - t0)
        return found

    def search_hits(
        self, queries: np.ndarray, k: int, *, params: dict | None = None
    ) -> list[list[Hit]]:
        """`hits` of `search` (unfiltered) in one call: the common search, whose every Python
        call costs microseconds right after FAISS has cooled the CPU caches."""
        q = self.query_matrix(queries)
        scores, ids = self._live.search(q, k, self._commits.search_params, params, None)
        return self.hits(scores, ids)

    def query_matrix(self, queries: np.ndarray) -> np.ndarray:
        """``queries`` as the C-contiguous float32 [n, dim] array FAISS reads (a 1-d vector is
        one row); the common query, already that, is returned as it is. A row with NaN or
        infinity is refused."""
        ready = search_arrays.query_rows(queries, self.dim)
        if ready is not None:
            return ready
        try:
            return search_arrays.converted_query_rows(queries, self.dim)
        except ValueError as err:
            raise StoreInputError(f"{self.path}: {err}") from None

    def check_integrity(self) -> IntegrityReport:
        """Consistency of the committed table, index and files (`mixsearch verify`)."""
        with self.snapshot() as snapshot:
            return check_store(snapshot)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[StoreSnapshot]:
        """A read-only view of the committed state for the block: meta, index and removed ids,
        and the connection inside one SQLite read snapshot. A store whose loaded generation is
        behind the committed one loads that first, so the view is of what is on disk."""
        commits = self._commits
        # inside a caller's read snapshot already (a server request): that one is used
        outer = commits.conn.in_transaction
        if outer and db.committed_generation(commits.conn) != self.generation:
            commits.load_in_snapshot()  # a BEGIN of its own would fail inside the caller's
        # else one read snapshot whose state is the one loaded: a writer committing between a
        # load and the snapshot would otherwise pair the loaded vector map with checksums of
        # rows it does not hold
        with contextlib.nullcontext() if outer else commits.loaded_snapshot():
            yield StoreSnapshot(
                path=self.path,
                meta=dict(commits.meta),
                index=self._live.index,
                dead=self._live.dead,
                conn=commits.conn,
                index_file=commits.committed_index_file(commits.meta),
                vectors=commits.vectors.current,
                vector_segments=db.read_segments(commits.conn),
                vectors_for=self.vectors_for,
            )

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[int]:
        """One consistent SQLite read snapshot (WAL) for the block; yields the generation it
        sees. A long-lived reader compares it with `generation` (its in-memory index): when
        they differ another process committed, and the reader reopens."""
        self._conn.execute("BEGIN")
        try:
            yield db.committed_generation(self._conn)
        finally:
            self._conn.execute("COMMIT")

    def _rows_of(self, doc_ids: list[str]) -> dict[int, int]:
        """faiss_id → modality code for the given doc_ids that exist."""
        rows = self._conn.execute(
            f"SELECT faiss_id, modality FROM docs WHERE doc_id IN {db.IDS_PARAM}",
            (json.dumps(doc_ids),),
        )
        return dict(rows)
