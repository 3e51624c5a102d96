"""The unified store: one directory holding a FAISS index, a SQLite document table and a manifest.

Layout::

    store.sqlite          documents (with their float32 vectors), meta, dead ids — the truth
    index.<gen>.faiss     FAISS checkpoint at generation <gen>, named by meta.index_generation
    manifest.json         human-readable mirror of the manifest (rewritten after each commit)
    write.lock            fcntl lock held by the one writer while it writes

Crash safety: SQLite is the single commit point. A commit inserts/deletes rows and bumps
``meta.generation`` in one transaction. Rewriting the whole FAISS index per commit would cost O(n)
per batch (quadratic over an ingest of many batches), so the index file is a *checkpoint*: it is
rewritten only when the rows changed since the last one exceed max(checkpoint_rows, n/8) (and at
the first commit, on compact and on close). Opening loads the checkpoint named by the committed
``index_generation`` and replays the rows added after it (their vectors are in SQLite) and the
dead ids removed after it. A checkpoint file is written to a temp name, fsynced and renamed
*before* the transaction that names it commits, so a kill at any instant leaves either the old or
the new committed state; files of other generations are stale and deleted by the next writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from mixsearch.documents import DocRecord, Modality
from mixsearch.errors import (
    StoreCorruptError,
    StoreError,
    StoreInputError,
    StoreLockedError,
    StoreNotFoundError,
    StoreSettingsError,
    StoreVersionError,
)
from mixsearch.store import db, index_file, layout
from mixsearch.store import index_spec as spec_mod
from mixsearch.store.crashpoints import crash_point
from mixsearch.store.filters import FilterCache, ResolvedFilter
from mixsearch.store.hit_table import HitRows, HitTable
from mixsearch.store.integrity import IntegrityReport, check_store
from mixsearch.store.layout import CREATING_NAME, DB_NAME, LOCK_NAME, MANIFEST_NAME
from mixsearch.vectors import atomic_write_text

FORMAT_VERSION = 1
DEFAULT_CHECKPOINT_ROWS = 10_000
LOCK_WAIT_S = 60.0
NORM_TOLERANCE = 1e-3


class StoreDamagedError(StoreCorruptError):
    """A committed file does not match its commit record; `mixsearch verify --repair` fixes it."""


REPAIR_HINT = "run `mixsearch verify {path} --repair` to rebuild it from the document table"


class Store:
    """A document store with one FAISS index; see the module docstring for the commit protocol."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly  # opened by a read command: nothing on disk is ever changed
        self._conn = db.connect_readonly(path / DB_NAME) if readonly else db.connect(path / DB_NAME)
        self._meta: dict[str, Any] = {}
        self._index: faiss.Index | None = None
        self._traits = spec_mod.IndexTraits.of(None)
        self._parameter_cache: dict[tuple, Any] = {}
        self._dead = np.empty(0, dtype=np.int64)  # ids masked at search time (HNSW only)
        self._dead_selector: Any = None
        self._lock_file: Any = None
        self._held_lock: Any = None  # the lock a creation claimed, held until `release_lock`
        self._wrote = False
        self._skip_index = False  # opened to rebuild a damaged index: rows only
        self._pending_spec: dict[str, Any] = {}  # spec resolved by the commit in progress
        self._filters = FilterCache()  # resolved filters of the loaded generation
        self._hits = HitRows()  # what hits show, from memory once that pays (hit_table.py)

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
        _json_or_error(extra or {}, f"{path}: manifest extra")
        lock = claimed if claimed is not None else layout.claim_new_store(path)
        try:
            store = cls._create_claimed(
                path, lock, dim, index_spec, extra or {}, memory_budget_bytes, checkpoint_rows
            )
        except BaseException:
            if claimed is None:
                lock.close()
            raise
        if claimed is None:
            store.release_lock()
        return store

    @classmethod
    def _create_claimed(
        cls,
        path: Path,
        lock: Any,
        dim: int,
        index_spec: str,
        extra: dict,
        memory_budget_bytes: int,
        checkpoint_rows: int,
    ) -> Store:
        store = cls(path)
        try:
            store._write_initial_meta(
                lock, dim, index_spec, extra, memory_budget_bytes, checkpoint_rows
            )
        except BaseException:
            store._held_lock = None  # the caller owns the lock on failure
            store._conn.close()
            raise
        return store

    def _write_initial_meta(
        self,
        lock: Any,
        dim: int,
        index_spec: str,
        extra: dict,
        memory_budget_bytes: int,
        checkpoint_rows: int,
    ) -> None:
        store, path = self, self.path
        store._held_lock = lock
        db.create_schema(store._conn)
        crash_point("schema-created")
        now = _utc_now()
        initial = {
            "format_version": FORMAT_VERSION,
            "dim": dim,
            "index_spec_requested": index_spec,
            "index_spec_resolved": None,
            "index_note": None,
            "generation": 0,
            "index_generation": 0,
            "pending_rows": 0,
            "next_faiss_id": 0,
            "count": 0,
            "modality_counts": {},
            "search_params": None,
            "extra": extra,
            "memory_budget_bytes": int(memory_budget_bytes),
            "checkpoint_rows": int(checkpoint_rows),
            "created_at": now,
            "updated_at": now,
        }
        with store._transaction():  # the moment the directory becomes a store
            db.write_meta(store._conn, initial)
        crash_point("store-committed")
        _unlink_quietly(path / CREATING_NAME)
        store._load()
        store._write_manifest()

    def release_lock(self) -> None:
        """Let other writers in after a creation (see `create`'s ``claimed``)."""
        if self._held_lock is not None:
            self._held_lock.close()
            self._held_lock = None

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        expect: dict | None = None,
        readonly: bool = False,
        load_index: bool = True,
    ) -> Store:
        """Open an existing store at its last committed state.

        Args:
            path: The store directory.
            expect: ``extra`` values that must match what the store was built with.
            readonly: For read commands: works on read-only media and never writes a file.
            load_index: False opens the committed rows only, no index (`verify --repair`).

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
            _refuse_unwritable(path)
        try:
            store = cls(path, readonly=readonly)
            store._skip_index = not load_index
        except sqlite3.DatabaseError as err:
            raise StoreCorruptError(
                f"{path}: cannot read its document table {DB_NAME} ({err})"
            ) from None
        try:
            store._load()
            store._check_format()
            store._check_expected(expect or {})
            if not readonly:
                store._clean_stale_files_if_unlocked()
        except sqlite3.DatabaseError as err:
            store._conn.close()
            raise StoreCorruptError(
                f"{path}: cannot read its document table {DB_NAME} ({err})"
            ) from None
        except BaseException:
            store._conn.close()
            raise
        return store

    def _check_format(self) -> None:
        version = self._meta.get("format_version")
        if version != FORMAT_VERSION:
            raise StoreVersionError(
                f"{self.path}: store format version {version!r}; this mixsearch reads version "
                f"{FORMAT_VERSION}"
            )

    def _check_expected(self, expect: dict) -> None:
        extra = self._meta.get("extra", {})
        for key, wanted in expect.items():
            have = extra.get(key)
            if _canonical(have) != _canonical(wanted):
                raise StoreSettingsError(
                    f"{self.path}: {key} differs: the store was built with {_canonical(have)} "
                    f"but this run uses {_canonical(wanted)}; rebuild the store or use the "
                    f"matching settings"
                )

    # ---- properties -------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return int(self._meta["dim"])

    def __len__(self) -> int:
        return int(self._meta["count"])

    @property
    def generation(self) -> int:
        return int(self._meta["generation"])

    @property
    def index(self) -> faiss.Index | None:
        """The live FAISS index (read-only use: benchmarks compare against it)."""
        return self._index

    @property
    def is_exact(self) -> bool:
        return self._traits.exact

    @property
    def is_lossy(self) -> bool:
        return self._traits.lossy

    @property
    def traits(self) -> spec_mod.IndexTraits:
        """Kind of the live index: exact, lossy, hnsw, nlist."""
        return self._traits

    @property
    def search_params(self) -> dict[str, int]:
        """Stored (tuned) parameters, else the defaults for the index kind."""
        stored = self._meta.get("search_params")
        if stored is not None:
            return dict(stored)
        return spec_mod.default_search_params(self._traits)

    @property
    def manifest(self) -> dict[str, Any]:
        m = self._meta
        return {
            "format_version": m["format_version"],
            "dim": m["dim"],
            "metric": "inner_product",
            "index_spec": m["index_spec_requested"],  # what to pass to create() again
            "index_spec_resolved": m["index_spec_resolved"],  # None until the first commit
            "index_note": m["index_note"],  # why resolved differs from requested, if it does
            "counts": {
                "documents": m["count"],
                "by_modality": {
                    Modality(int(code)).label: n for code, n in sorted(m["modality_counts"].items())
                },
                "masked_dead": len(self._dead),
            },
            "generation": m["generation"],
            "index_generation": m["index_generation"],
            "search_params": self.search_params,
            "search_params_tuned": m["search_params"] is not None,
            "memory_budget_bytes": m["memory_budget_bytes"],
            "extra": m["extra"],
            "created_at": m["created_at"],
            "updated_at": m["updated_at"],
        }

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
        records, vectors = self._checked_batch(records, vectors)
        if not records:
            return
        with self._writing():
            existing = db.faiss_ids_of(self._conn, [r.doc_id for r in records])
            if existing:
                raise StoreInputError(
                    f"{self.path}: {len(existing)} doc_id(s) already in the store: "
                    f"{_names(sorted(existing))}; nothing was added (use upsert to replace)"
                )
            self._commit(records, vectors, removed={})

    def upsert(self, records: Sequence[DocRecord], vectors: np.ndarray) -> None:
        """Replace documents whose doc_id exists and add the others, in one atomic commit.

        Args:
            records: One `DocRecord` per row (doc_ids unique within the batch).
            vectors: Float array [len(records), dim].

        Raises:
            StoreInputError: as `add`, except that existing doc_ids are replaced.
            StoreLockedError: another process keeps writing the store.
        """
        records, vectors = self._checked_batch(records, vectors)
        if not records:
            return
        with self._writing():
            removed = self._rows_of([r.doc_id for r in records])
            self._commit(records, vectors, removed=removed)

    def remove(self, doc_ids: Sequence[str]) -> int:
        """Remove documents in one commit.

        Args:
            doc_ids: The ids to remove; unknown ones are ignored (see `missing`).

        Returns:
            How many of them were in the store.

        Raises:
            StoreLockedError: another process keeps writing the store.
        """
        with self._writing():
            removed = self._rows_of(list(dict.fromkeys(doc_ids)))
            if removed:
                self._commit([], np.empty((0, self.dim), np.float32), removed=removed)
        return len(removed)

    def set_search_params(self, params: dict) -> None:
        """Persist FAISS search parameters (``nprobe``, ``efSearch``); ``{}`` means defaults."""
        checked = spec_mod.check_search_params(params)
        with self._writing(), self._transaction():
            db.write_meta(self._conn, {"search_params": checked or None})
        self._meta["search_params"] = checked or None
        self._parameter_cache.clear()
        self._write_manifest()

    def update_extra(self, values: dict) -> None:
        """Merge ``values`` into the manifest's ``extra`` dict (e.g. a new alignment file)."""
        extra = {**self._meta["extra"], **values}
        _json_or_error(extra, f"{self.path}: manifest extra")
        with self._writing(), self._transaction():
            db.write_meta(self._conn, {"extra": extra})
        self._meta["extra"] = extra
        self._write_manifest()

    def compact(self, index_spec: str | None = None) -> None:
        """Rebuild the index from the stored vectors (re-resolving ``auto``, or switching to
        ``index_spec``), drop removed ids, then VACUUM."""
        with self._writing():
            self._rebuild(index_spec)
            self._conn.execute("VACUUM")

    def rebuild(self, index_spec: str | None = None) -> None:
        """Rebuild the index from the stored vectors, switching to ``index_spec`` if given
        (one crash-safe commit; unlike `compact`, no VACUUM of the document table)."""
        with self._writing():
            self._rebuild(index_spec)

    def write_manifest(self) -> None:
        """Rewrite manifest.json from the committed meta (it is a mirror; SQLite is the truth)."""
        with self._writing():
            self._write_manifest()

    def checkpoint(self) -> None:
        """Write the FAISS index file so the next open needs no replay."""
        with self._writing():
            if self._meta["pending_rows"] > 0:
                self._write_checkpoint()

    def close(self) -> None:
        if self._conn is None:
            return
        try:
            if self._wrote and self._meta.get("pending_rows", 0) > 0:
                self.checkpoint()
        finally:
            self.release_lock()
            self._conn.close()
            self._conn = None  # type: ignore[assignment]
            self._index = None
            self._hits.clear()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ----------------------------------------------------------------------------

    def missing(self, doc_ids: Sequence[str]) -> list[str]:
        found = self.contains(doc_ids)
        return [d for d in dict.fromkeys(doc_ids) if d not in found]

    def contains(self, doc_ids: Sequence[str]) -> set[str]:
        return set(db.faiss_ids_of(self._conn, list(doc_ids)))

    def get(self, doc_ids: Sequence[str]) -> list[DocRecord]:
        """Records of the given doc_ids in the given order; unknown ids are skipped."""
        by_doc = db.faiss_ids_of(self._conn, list(doc_ids))
        records = db.records_by_faiss_id(self._conn, by_doc.values())
        return [records[by_doc[d]] for d in doc_ids if d in by_doc]

    def faiss_ids(self, doc_ids: Sequence[str]) -> dict[str, int]:
        """doc_id → FAISS id for the doc_ids present."""
        return db.faiss_ids_of(self._conn, list(doc_ids))

    def records_by_id(self, faiss_ids: Sequence[int] | np.ndarray) -> dict[int, DocRecord]:
        """One SQLite query; ids not in the store (including -1 padding) are absent."""
        return db.records_by_faiss_id(self._conn, faiss_ids)

    def hit_rows(self, faiss_ids: Iterable[int]) -> dict[int, tuple]:
        """faiss_id → (doc_id, modality code, text, image_path, metadata JSON) of the ids in the
        store (text: its first `hit_table.TEXT_PREFIX_CHARS` characters at least), from the
        in-memory hit table of the loaded generation when it is loaded and current, else one
        SQLite query (`mixsearch.store.hit_table`)."""
        return self._hits.lookup(self._conn, self.generation, len(self), faiss_ids)

    @property
    def hit_table(self) -> HitTable | None:
        """The in-memory hit table in use, if loaded (its ``nbytes`` is what it costs)."""
        return self._hits.table

    def warm(self) -> None:
        """Load the hit table now rather than when it has paid off: for long-lived readers (a
        server, a benchmark) that will search this generation many times."""
        if self._index is not None:
            self._hits.load(self._conn, self.generation)

    def records_for(self, faiss_ids: Sequence[int] | np.ndarray) -> list[DocRecord]:
        """Records in the order of ``faiss_ids`` (one SQLite query); unknown ids are an error."""
        ids = [int(i) for i in faiss_ids]
        found = db.records_by_faiss_id(self._conn, ids)
        self._refuse_unknown(ids, found)
        return [found[i] for i in ids]

    def vectors_for(self, faiss_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The exact stored vectors [n, dim] in the order of ``faiss_ids``."""
        ids = [int(i) for i in faiss_ids]
        found = db.vectors_by_faiss_id(self._conn, ids, self.dim)
        self._refuse_unknown(ids, found)
        if not ids:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack([found[i] for i in ids])

    def iter_vectors(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored (faiss_ids, vectors) in chunks of at most 50k rows, in id order."""
        return db.iter_vectors(self._conn, self.dim)

    def all_ids(self) -> np.ndarray:
        """Every document's FAISS id, sorted."""
        rows = self._conn.execute("SELECT faiss_id FROM docs ORDER BY faiss_id")
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def filter_ids(self, *, modality: Any = None, where: dict | None = None) -> np.ndarray:
        """Sorted FAISS ids of documents matching a modality (or list) and metadata conditions.

        ``where`` maps metadata keys to a value (equality) or to ``{"gte"|"gt"|"lte"|"lt": v}``.
        """
        return self.resolve_filter(modality=modality, where=where).ids

    def resolve_filter(self, *, modality: Any = None, where: dict | None = None) -> ResolvedFilter:
        """The filter's documents in the loaded generation: ids, bitmap and FAISS selector,
        resolved once per generation and filter (`mixsearch.store.filters`)."""
        return self._filters.resolve(
            self._conn,
            generation=self.generation,
            id_bound=int(self._meta["next_faiss_id"]),
            modality=modality,
            where=where,
        )

    def filter_vectors(self, resolved: ResolvedFilter) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of a resolved filter's documents for exact scoring, gathered once;
        documents another process removed since this generation are left out."""
        found = resolved.exact_rows(self._present_vectors)
        self._filters.trim_vectors()
        return found

    def _present_vectors(self, faiss_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = db.vectors_by_faiss_id(self._conn, faiss_ids, self.dim)
        ids = np.fromiter((i for i in faiss_ids.tolist() if i in found), np.int64)
        if not len(ids):
            return ids, np.empty((0, self.dim), np.float32)
        return ids, np.stack([found[i] for i in ids.tolist()])

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
        if self._index is None or self._index.ntotal == 0 or k < 1:
            return (
                np.full((len(q), max(k, 0)), -np.inf, np.float32),
                np.full((len(q), max(k, 0)), -1, np.int64),
            )
        if allowed_ids is None:
            sp = self._unfiltered_parameters(params, k)
        else:
            use = self.search_params if params is None else spec_mod.check_search_params(params)
            keep: list[Any] = []  # FAISS selectors do not own their arrays: keep them alive
            if isinstance(allowed_ids, ResolvedFilter):
                selector = allowed_ids.selector  # built from live rows: no dead ids in it
            else:
                selector = self._selector(allowed_ids, keep)
            sp = spec_mod.faiss_search_parameters(self._traits, use, k, selector)
        scores, ids = self._index.search(q, k, params=sp)
        return scores, ids

    def _unfiltered_parameters(self, params: dict | None, k: int) -> Any:
        """FAISS parameter objects for unfiltered searches, built once per (params, k): the
        per-query overhead over raw FAISS is what the latency benchmark measures."""
        key = (None if params is None else tuple(sorted(params.items())), k)
        sp = self._parameter_cache.get(key)
        if sp is None:
            use = self.search_params if params is None else spec_mod.check_search_params(params)
            selector = self._dead_selector[0] if self._dead_selector is not None else None
            sp = spec_mod.faiss_search_parameters(self._traits, use, k, selector)
            if len(self._parameter_cache) > 256:
                self._parameter_cache.clear()
            self._parameter_cache[key] = sp
        return sp

    def query_matrix(self, queries: np.ndarray) -> np.ndarray:
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise StoreInputError(
                f"{self.path}: query vectors must have shape [n, {self.dim}], got {q.shape}"
            )
        return np.ascontiguousarray(q)

    def check_integrity(self) -> IntegrityReport:
        return check_store(self)

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

    # ---- internals: validation --------------------------------------------------------------

    def _checked_batch(
        self, records: Sequence[DocRecord], vectors: np.ndarray
    ) -> tuple[list[DocRecord], np.ndarray]:
        records = list(records)
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape != (len(records), self.dim):
            raise StoreInputError(
                f"{self.path}: expected vectors of shape ({len(records)}, {self.dim}) for "
                f"{len(records)} records, got {vecs.shape}"
            )
        for rec in records:
            _check_record(rec)
        dup = sorted(d for d, n in Counter(r.doc_id for r in records).items() if n > 1)
        if dup:
            raise StoreInputError(
                f"{self.path}: doc_id(s) repeated within the batch: {_names(dup)}; nothing added"
            )
        return records, self._normalised(records, vecs)

    def _normalised(self, records: list[DocRecord], vecs: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(vecs, axis=1)
        bad = ~np.isfinite(norms) | (norms < 1e-6)
        if bad.any():
            names = [records[i].doc_id for i in np.flatnonzero(bad)]
            raise StoreInputError(
                f"{self.path}: zero or non-finite vectors for {_names(names)}; nothing added"
            )
        # Scores are cosine only on unit vectors; renormalising here costs little and protects
        # the index from callers that pass raw encoder output.
        if np.abs(norms - 1.0).max(initial=0.0) > NORM_TOLERANCE:
            vecs = vecs / norms[:, None]
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _rows_of(self, doc_ids: list[str]) -> dict[int, int]:
        """faiss_id → modality code for the given doc_ids that exist."""
        rows = self._conn.execute(
            f"SELECT faiss_id, modality FROM docs WHERE doc_id IN {db.IDS_PARAM}",
            (json.dumps(doc_ids),),
        )
        return dict(rows)

    def _refuse_unknown(self, ids: list[int], found: dict) -> None:
        unknown = [i for i in dict.fromkeys(ids) if i not in found]
        if unknown:
            raise StoreInputError(f"{self.path}: unknown FAISS id(s) {_names(unknown)}")

    # ---- internals: committing --------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the exclusive write lock; reload first if another writer committed meanwhile."""
        if self._conn is None:
            raise StoreError(f"{self.path}: store is closed")
        if self.readonly:
            raise StoreError(f"{self.path}: the store was opened read-only")
        if self._lock_file is not None:  # re-entrant use from within this object
            yield
            return
        if self._held_lock is not None:  # held since creation: nobody else can have committed
            self._lock_file = self._held_lock
            try:
                with self._one_line_write_errors():
                    yield
                self._wrote = True
            finally:
                self._lock_file = None
            return
        lock_file = open(self.path / LOCK_NAME, "a+")  # noqa: SIM115 (held across the block)
        try:
            _acquire(lock_file, self.path)
            self._lock_file = lock_file
            committed = db.read_meta(self._conn)
            if committed["generation"] != self._meta.get("generation"):
                self._load()
            else:
                self._meta = committed  # picks up settings another process changed
                self._parameter_cache.clear()
            with self._one_line_write_errors():
                yield
            self._wrote = True
        finally:
            self._lock_file = None
            lock_file.close()  # releases the flock

    @contextlib.contextmanager
    def _one_line_write_errors(self) -> Iterator[None]:
        """A full disk or an I/O error while writing is one line that says nothing was lost."""
        try:
            yield
        except (sqlite3.Error, OSError, RuntimeError) as err:
            if isinstance(err, RuntimeError) and "faiss" not in str(err).lower():
                raise
            reason = getattr(err, "strerror", None) or " ".join(str(err).split())[-200:]
            raise StoreError(
                f"{self.path}: could not write ({reason}); nothing of this change was committed "
                "and the store keeps its last committed state"
            ) from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:  # a failed COMMIT (disk full) leaves it open
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise

    def _commit(
        self, records: list[DocRecord], vectors: np.ndarray, removed: dict[int, int]
    ) -> None:
        m = self._meta
        gen = m["generation"] + 1
        first_id = m["next_faiss_id"]
        fids = np.arange(first_id, first_id + len(records), dtype=np.int64)
        removed_ids = np.fromiter(removed, dtype=np.int64, count=len(removed))
        old_index_gen = m["index_generation"]
        try:
            just_built = self._index is None and len(records) > 0
            if just_built:
                self._build_first_index(vectors)
            self._apply_to_index(fids, vectors, removed_ids)
            pending = m["pending_rows"] + len(records) + len(removed)
            checkpoint = just_built or pending >= max(m["checkpoint_rows"], m["count"] // 8)
            updates = self._commit_updates(gen, len(records), records, removed)
            if checkpoint:
                updates.update(
                    index_generation=gen, pending_rows=0, index_file=self._write_index_file(gen)
                )
                crash_point("index-written")
            else:
                updates["pending_rows"] = pending
            with self._transaction():
                if len(removed_ids):
                    db.delete_rows(self._conn, removed_ids, gen)
                db.insert_rows(self._conn, records, fids, vectors, gen)
                if checkpoint and self._traits.removable:
                    self._conn.execute("DELETE FROM dead")
                db.write_meta(self._conn, updates)
            crash_point("rows-committed")
        except BaseException:
            self._load()  # the in-memory index may hold uncommitted changes
            raise
        m.update(updates)
        self._after_commit(old_index_gen)
        if checkpoint and not just_built:
            self._upgrade_auto_spec()

    def _commit_updates(
        self, gen: int, n_new: int, records: list[DocRecord], removed: dict[int, int]
    ) -> dict[str, Any]:
        m = self._meta
        counts = Counter({int(k): v for k, v in m["modality_counts"].items()})
        counts.update(int(r.modality) for r in records)
        counts.subtract(removed.values())
        updates = {
            "generation": gen,
            "next_faiss_id": m["next_faiss_id"] + n_new,
            "count": m["count"] + n_new - len(removed),
            "modality_counts": {str(k): v for k, v in sorted(counts.items()) if v > 0},
            "updated_at": _utc_now(),
        }
        for key in ("index_spec_resolved", "index_note"):
            if self._pending_spec.get(key) is not None:
                updates[key] = self._pending_spec[key]
        return updates

    def _build_first_index(self, vectors: np.ndarray) -> None:
        m = self._meta
        requested = m["index_spec_requested"]
        spec = spec_mod.resolve_spec(requested, len(vectors), self.dim, m["memory_budget_bytes"])
        built = spec_mod.build_index(spec, self.dim, vectors)
        self._set_index(built.index, np.empty(0, np.int64))
        self._pending_spec = {"index_spec_resolved": built.spec, "index_note": built.note}

    def _apply_to_index(self, fids: np.ndarray, vectors: np.ndarray, removed: np.ndarray) -> None:
        index: Any = self._index  # the faiss stubs type remove_ids(IDSelector) only
        assert index is not None or (len(fids) == 0 and len(removed) == 0)
        if len(removed):
            if self._traits.removable:
                index.remove_ids(removed)
            else:
                self._set_index(index, np.union1d(self._dead, removed))
        if len(fids):
            index.add_with_ids(vectors, fids)

    def _after_commit(self, old_index_gen: int) -> None:
        self._pending_spec = {}
        if self._meta["index_generation"] != old_index_gen:
            _unlink_quietly(self._index_file(old_index_gen))
        self._write_manifest()

    def _write_checkpoint(self) -> None:
        """Write the current in-memory index as the checkpoint of the committed generation."""
        gen = self._meta["generation"]
        old = self._meta["index_generation"]
        updates = {"index_generation": gen, "pending_rows": 0}
        updates["index_file"] = self._write_index_file(gen)
        with self._transaction():
            if self._traits.removable:
                self._conn.execute("DELETE FROM dead")
            db.write_meta(self._conn, updates)
        self._meta.update(updates)
        self._after_commit(old)

    def _upgrade_auto_spec(self) -> None:
        """An ``auto`` store re-resolves its spec at checkpoints as it grows (a rebuild)."""
        m = self._meta
        if m["index_spec_requested"].strip().lower() != spec_mod.AUTO:
            return
        wanted = spec_mod.choose_index_spec(m["count"], self.dim, m["memory_budget_bytes"])
        if wanted != m["index_spec_resolved"]:
            self._rebuild()

    def _rebuild(self, index_spec: str | None = None) -> None:
        m = self._meta
        gen = m["generation"] + 1
        old_index_gen = m["index_generation"]
        updates: dict[str, Any] = {"generation": gen, "index_generation": gen, "pending_rows": 0}
        try:
            if index_spec is not None:
                m["index_spec_requested"] = updates["index_spec_requested"] = index_spec
            index, note, spec = self._index_from_rows()
            updates.update(index_spec_resolved=spec, index_note=note, updated_at=_utc_now())
            if spec != m["index_spec_resolved"]:
                updates["search_params"] = None  # tuned values belong to the old index kind
            self._set_index(index, np.empty(0, np.int64))
            updates["index_file"] = self._write_index_file(gen) if index is not None else None
            with self._transaction():
                self._conn.execute("DELETE FROM dead")
                db.write_meta(self._conn, updates)
        except BaseException:
            self._load()
            raise
        m.update(updates)
        self._after_commit(old_index_gen)

    def _index_from_rows(self) -> tuple[faiss.Index | None, str | None, str | None]:
        m = self._meta
        n = m["count"]
        if n == 0:
            return None, None, None
        spec = spec_mod.resolve_spec(
            m["index_spec_requested"], n, self.dim, m["memory_budget_bytes"]
        )
        sample = np.empty((0, self.dim), np.float32)
        if spec_mod.needs_training(spec, self.dim):
            sample = self._training_sample()
        built = spec_mod.build_index(spec, self.dim, sample)
        for ids, vecs in db.iter_vectors(self._conn, self.dim):
            built.index.add_with_ids(vecs, ids)
        return built.index, built.note, built.spec

    def _training_sample(self, seed: int = 0) -> np.ndarray:
        ids = self.all_ids()
        if len(ids) > spec_mod.MAX_TRAIN_VECTORS:
            ids = np.random.default_rng(seed).choice(ids, spec_mod.MAX_TRAIN_VECTORS, replace=False)
        return self.vectors_for(np.sort(ids))

    # ---- internals: files and loading -------------------------------------------------------

    def _index_file(self, gen: int) -> Path:
        return self.path / f"index.{gen}.faiss"

    def _write_index_file(self, gen: int) -> dict[str, Any]:
        """Write the checkpoint of generation ``gen``; its record goes into the same commit."""
        assert self._index is not None
        return index_file.write_index_file(self._index, self._index_file(gen))

    def _write_manifest(self) -> None:
        # A mirror of the SQLite meta (the truth), so no fsync.
        atomic_write_text(
            self.path / MANIFEST_NAME,
            json.dumps(self.manifest, indent=2, sort_keys=True) + "\n",
            tmp_name=MANIFEST_NAME + ".tmp",
            durable=False,
        )

    def _load(self) -> None:
        """Load the committed state: checkpoint file + replay of later rows and dead ids."""
        for attempt in range(5):
            try:
                self._load_snapshot()
                return
            except FileNotFoundError as err:
                # A writer checkpointed and deleted our snapshot's file: take a newer snapshot.
                if attempt == 4:
                    raise self._damaged(
                        f"its committed index file {Path(str(err)).name} is missing"
                    ) from None
                time.sleep(0.05)

    def _load_snapshot(self) -> None:
        self._conn.execute("BEGIN")  # one read snapshot (WAL) for meta, file name and rows
        try:
            meta = db.read_meta(self._conn)
            if "format_version" not in meta:
                raise StoreCorruptError(f"{self.path}: not a mixsearch store (empty meta table)")
            index = None
            if meta["index_spec_resolved"] is not None and not self._skip_index:
                index_gen = meta["index_generation"]
                index = self._read_checkpoint(meta)
                for ids, vecs in db.iter_vectors(self._conn, meta["dim"], added_after=index_gen):
                    index.add_with_ids(vecs, ids)
            dead = np.fromiter(
                (r[0] for r in self._conn.execute("SELECT faiss_id FROM dead")), np.int64
            )
        finally:
            self._conn.execute("COMMIT")
        if index is not None and spec_mod.is_removable(index):
            if len(dead):
                index.remove_ids(dead)  # type: ignore[arg-type]
            dead = np.empty(0, np.int64)
        if index is not None:
            self._check_live_count(index, dead, meta)
        self._meta = meta
        self._pending_spec = {}
        self._set_index(index, np.sort(dead) if index is not None else np.empty(0, np.int64))

    def _read_checkpoint(self, meta: dict[str, Any]) -> faiss.Index:
        path = _existing(self._index_file(meta["index_generation"]))
        recorded = meta.get("index_file")
        if recorded is not None and recorded.get("name") != path.name:
            raise self._damaged(
                f"its commit names index file {recorded.get('name')}, not {path.name}"
            )
        try:
            return index_file.read_index_file(path, meta.get("index_file"), meta["dim"])
        except index_file.IndexFileError as err:
            raise self._damaged(
                f"its index file {path.name} is not the committed one: {err}"
            ) from None

    def _check_live_count(self, index: faiss.Index, dead: np.ndarray, meta: dict) -> None:
        """Checkpoint + replay must hold exactly the committed documents (HNSW keeps removed
        ids masked, some of them possibly never replayed: a range then)."""
        count, total = meta["count"], int(index.ntotal)
        if count == total or (
            not spec_mod.is_removable(index) and total - len(dead) <= count < total
        ):
            return
        raise self._damaged(
            f"its index holds {total} vectors ({len(dead)} removed) for {count} documents"
        )

    def _damaged(self, what: str) -> StoreDamagedError:
        return StoreDamagedError(f"{self.path}: {what}; " + REPAIR_HINT.format(path=self.path))

    def _set_index(self, index: faiss.Index | None, dead: np.ndarray) -> None:
        self._index = index
        self._traits = spec_mod.IndexTraits.of(index)
        self._parameter_cache.clear()
        self._dead = dead
        self._dead_selector = None
        if len(dead):
            batch = faiss.IDSelectorBatch(dead)
            self._dead_selector = (faiss.IDSelectorNot(batch), batch)

    def _selector(self, allowed_ids: np.ndarray | None, keep: list[Any]) -> Any:
        dead = self._dead_selector[0] if self._dead_selector is not None else None
        if allowed_ids is None:
            return dead
        allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
        batch = faiss.IDSelectorBatch(allowed)
        keep.append(batch)
        if dead is None:
            return batch
        both = faiss.IDSelectorAnd(batch, dead)
        keep.append(both)
        return both

    def _clean_stale_files_if_unlocked(self) -> None:
        """Delete index files of uncommitted or superseded generations, unless a writer is busy."""
        try:
            lock_file = open(self.path / LOCK_NAME, "a+")  # noqa: SIM115
        except OSError:
            return  # a read-only store: nothing to clean, and nobody can be writing it
        try:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            committed = db.read_meta(self._conn)
            keep = {self._index_file(committed["index_generation"]).name}
            for f in self.path.glob("index.*.faiss*"):
                if f.name not in keep:
                    _unlink_quietly(f)
            _unlink_quietly(self.path / (MANIFEST_NAME + ".tmp"))
            _unlink_quietly(self.path / CREATING_NAME)  # a creation killed after its commit
            if committed["generation"] == self._meta["generation"]:
                self._write_manifest()
        finally:
            lock_file.close()


# ---- helpers ----------------------------------------------------------------------------------


def _check_record(rec: DocRecord) -> None:
    if not isinstance(rec, DocRecord):
        raise StoreInputError(f"expected DocRecord, got {type(rec).__name__}")
    if not isinstance(rec.doc_id, str) or not rec.doc_id:
        raise StoreInputError(f"document {rec.doc_id!r}: doc_id must be a non-empty string")
    if not isinstance(rec.modality, Modality):
        raise StoreInputError(f"document {rec.doc_id!r}: modality must be a Modality")
    if not isinstance(rec.metadata, dict):
        raise StoreInputError(f"document {rec.doc_id!r}: metadata must be a dict")
    _json_or_error(rec.metadata, f"document {rec.doc_id!r}: metadata")


def _json_or_error(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)  # NaN would break every later --where on the store
    except (TypeError, ValueError, RecursionError) as err:
        raise StoreInputError(f"{what} is not JSON-serialisable: {err}") from None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _names(items: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _acquire(lock_file: Any, path: Path) -> None:
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise StoreLockedError(
                    f"{path}: another process has been writing this store for over "
                    f"{LOCK_WAIT_S:.0f} s; try again when it finishes"
                ) from None
            time.sleep(0.05)


def _refuse_unwritable(path: Path) -> None:
    """A writer on read-only media (or without write permission) is refused up front, in one
    line, rather than failing half-way with a SQLite error."""
    for target in (path, path / DB_NAME):
        if not os.access(target, os.W_OK):
            raise StoreError(
                f"{path}: the store is read-only ({target.name} is not writable); search, info "
                "and verify work on it, but it cannot be changed"
            )


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
