"""The commit side of a store: SQLite meta and rows, generations, checkpoints and the write lock.

Layout::

    store.sqlite          documents, meta, dead ids, vector-row checksums — the truth
    vectors.<gen>.f32     every vector once, row = FAISS id (`vector_file`), named by meta
    index.<gen>.faiss     FAISS checkpoint at generation <gen>, named by meta.index_generation:
                          HNSW graph only, IVF/PQ codes; none for Flat (filled from the vectors)
    manifest.json         human-readable mirror of the manifest (rewritten after each commit)
    write.lock            fcntl lock held by the one writer while it writes

Crash safety: SQLite is the single commit point. A commit inserts/deletes rows and bumps
``meta.generation`` in one transaction. Rewriting the whole FAISS index per commit would cost O(n)
per batch (quadratic over an ingest of many batches), so the index file is a *checkpoint*: it is
rewritten only when the rows changed since the last one exceed max(checkpoint_rows, n/8) (and at
the first commit, on compact and on close). Opening loads the checkpoint named by the committed
``index_generation`` (an HNSW graph gets its vectors back from the vector file; a Flat index is
filled from it) and replays the rows added after it (their vectors are in the vector file) and
the dead ids removed after it. A commit appends its vectors to the vector file and fsyncs them
before its transaction, which records how many rows are committed (``next_faiss_id``) and their
checksum. A checkpoint file is written to a temp name, fsynced and renamed
*before* the transaction that names it commits, so a kill at any instant leaves either the old or
the new committed state; files of other generations are stale and deleted by the next writer.

`Commits` owns the connection and the committed meta, and keeps the store's `LiveIndex` (the
searchable part) equal to the committed generation: it loads it, applies each commit to it and
replaces it on rebuilds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from mixsearch.documents import DocRecord, Modality
from mixsearch.errors import (
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreSettingsError,
    StoreVersionError,
)
from mixsearch.store import db, index_file, vector_file
from mixsearch.store import index_spec as spec_mod
from mixsearch.store.committed_vectors import CommittedVectors
from mixsearch.store.crashpoints import crash_point
from mixsearch.store.damage import StoreDamagedError
from mixsearch.store.layout import CREATING_NAME, DB_NAME, LOCK_NAME, MANIFEST_NAME, stale_files
from mixsearch.store.live_index import LiveIndex, live_count_problem
from mixsearch.store.verified_segments import VerifiedSegments
from mixsearch.vectors import atomic_write_text

FORMAT_VERSION = 2  # 1: vectors also kept as SQLite BLOBs (`mixsearch store migrate` converts)
LOCK_WAIT_S = 60.0
REPAIR_HINT = "run `mixsearch verify {path} --repair` to rebuild it from the document table"


@dataclass(frozen=True)
class Creation:
    """What `Store.create` was asked for (see its arguments)."""

    dim: int
    index_spec: str
    extra: dict
    memory_budget_bytes: int
    checkpoint_rows: int


class Commits:
    """The committed state of one store directory and the only way to change it."""

    def __init__(
        self,
        path: Path,
        live: LiveIndex,
        *,
        readonly: bool,
        skip_index: bool,
        verified: VerifiedSegments | None = None,
    ) -> None:
        self.path = path
        self.live = live
        self.readonly = readonly  # opened by a read command: nothing on disk is ever changed
        self.conn = db.connect_readonly(path / DB_NAME) if readonly else db.connect(path / DB_NAME)
        self.meta: dict[str, Any] = {}
        self.held_lock: Any = None  # the lock a creation claimed, held until `release_lock`
        self._lock_file: Any = None
        self._wrote = False
        self._skip_index = skip_index  # opened to rebuild a damaged index: rows only
        self._pending_spec: dict[str, Any] = {}  # spec resolved by the commit in progress
        # the vector file's committed rows (``verified``: segments already hashed, not again)
        self.vectors = CommittedVectors(path, self.conn, verified)

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    @property
    def wrote(self) -> bool:
        """Whether this process committed anything (close then writes a due checkpoint)."""
        return self._wrote

    def release_lock(self) -> None:
        if self.held_lock is not None:
            self.held_lock.close()
            self.held_lock = None

    def close_files(self) -> None:
        """Close the connection and the vector map (not left to the garbage collector)."""
        self.vectors.close()
        self.conn.close()

    def search_params(self) -> dict[str, int]:
        """Stored (tuned) parameters, else the defaults for the index kind."""
        stored = self.meta.get("search_params")
        if stored is not None:
            return dict(stored)
        return spec_mod.default_search_params(self.live.traits)

    def set_meta(self, values: dict[str, Any]) -> None:
        """Commit settings (no generation change) and mirror them in the manifest."""
        with self.writing(), self.transaction():
            db.write_meta(self.conn, values)
        self.meta.update(values)
        self.live.forget_parameters()
        self.write_manifest()

    def write_initial_meta(self, lock: Any, asked: Creation) -> None:
        """Make the claimed directory a store of generation 0, in one SQLite commit."""
        self.held_lock = lock  # held until `release_lock`
        db.create_schema(self.conn)
        crash_point("schema-created")
        now = _utc_now()
        initial = {
            "format_version": FORMAT_VERSION,
            "dim": asked.dim,
            "vector_file": vector_file.file_name(0),
            "index_spec_requested": asked.index_spec,
            "index_spec_resolved": None,
            "index_note": None,
            "generation": 0,
            "index_generation": 0,
            "pending_rows": 0,
            "next_faiss_id": 0,
            "count": 0,
            "modality_counts": {},
            "search_params": None,
            "extra": asked.extra,
            "memory_budget_bytes": int(asked.memory_budget_bytes),
            "checkpoint_rows": int(asked.checkpoint_rows),
            "created_at": now,
            "updated_at": now,
        }
        with self.transaction():  # the moment the directory becomes a store
            db.write_meta(self.conn, initial)
        crash_point("store-committed")
        _unlink_quietly(self.path / CREATING_NAME)
        self.load()
        self.write_manifest()

    def check_format(self) -> None:
        refuse_other_format(self.path, self.meta)

    def check_expected(self, expect: dict) -> None:
        extra = self.meta.get("extra", {})
        for key, wanted in expect.items():
            have = extra.get(key)
            if _canonical(have) != _canonical(wanted):
                raise StoreSettingsError(
                    f"{self.path}: {key} differs: the store was built with {_canonical(have)} "
                    f"but this run uses {_canonical(wanted)}; rebuild the store or use the "
                    f"matching settings"
                )

    @property
    def manifest(self) -> dict[str, Any]:
        """The committed meta as `manifest.json` shows it."""
        m = self.meta
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
                "masked_dead": len(self.live.dead),
            },
            "generation": m["generation"],
            "index_generation": m["index_generation"],
            "search_params": self.search_params(),
            "search_params_tuned": m["search_params"] is not None,
            "memory_budget_bytes": m["memory_budget_bytes"],
            "extra": m["extra"],
            "created_at": m["created_at"],
            "updated_at": m["updated_at"],
        }

    # ---- internals: committing --------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the exclusive write lock; reload first if another writer committed meanwhile."""
        if self.conn is None:
            raise StoreError(f"{self.path}: store is closed")
        if self.readonly:
            raise StoreError(f"{self.path}: the store was opened read-only")
        if self._lock_file is not None:  # re-entrant use from within this object
            yield
            return
        if self.held_lock is not None:  # held since creation: nobody else can have committed
            self._lock_file = self.held_lock
            try:
                with self._one_line_write_errors():
                    yield
                self._wrote = True
            finally:
                self._lock_file = None
            return
        lock_file = open(self.path / LOCK_NAME, "a+")  # noqa: SIM115 (held across the block)
        try:
            acquire_write_lock(lock_file, self.path)
            self._lock_file = lock_file
            committed = db.read_meta(self.conn)
            if committed["generation"] != self.meta.get("generation"):
                self.load()
            else:
                self.meta = committed  # picks up settings another process changed
                self.live.forget_parameters()
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
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:  # a failed COMMIT (disk full) leaves it open
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise

    def commit(
        self, records: list[DocRecord], vectors: np.ndarray, removed: dict[int, int]
    ) -> None:
        m = self.meta
        gen = m["generation"] + 1
        first_id = m["next_faiss_id"]
        fids = np.arange(first_id, first_id + len(records), dtype=np.int64)
        removed_ids = np.fromiter(removed, dtype=np.int64, count=len(removed))
        old_index_gen = m["index_generation"]
        try:
            just_built = self.live.index is None and len(records) > 0
            if just_built:
                self._build_first_index(vectors)
            self.live.apply(fids, vectors, removed_ids)
            pending = m["pending_rows"] + len(records) + len(removed)
            checkpoint = (
                just_built
                or self._filled_from_vectors()  # no file to write: "checkpoints" are free
                or pending >= max(m["checkpoint_rows"], m["count"] // 8)
            )
            updates = self._commit_updates(gen, len(records), records, removed)
            segment = self.vectors.append(m, vectors) if len(records) else None
            crash_point("vectors-appended")
            if checkpoint:
                updates.update(
                    index_generation=gen, pending_rows=0, index_file=self._write_index_file(gen)
                )
                crash_point("index-written")
            else:
                updates["pending_rows"] = pending
            with self.transaction():
                if len(removed_ids):
                    db.delete_rows(self.conn, removed_ids, gen)
                db.insert_rows(self.conn, records, fids, gen)
                if segment is not None:
                    db.insert_segments(self.conn, [segment])
                if checkpoint and self.live.traits.removable:
                    self.conn.execute("DELETE FROM dead")
                db.write_meta(self.conn, updates)
            crash_point("rows-committed")
        except BaseException:
            self.load()  # the in-memory index may hold uncommitted changes
            raise
        m.update(updates)
        self.vectors.map(m)
        self._after_commit(old_index_gen)
        if checkpoint and not just_built:
            self._upgrade_auto_spec()

    def _filled_from_vectors(self) -> bool:
        """A Flat index keeps no checkpoint: opening fills it from the vector file."""
        index = self.live.index
        return index is not None and spec_mod.is_exact(index)

    def _commit_updates(
        self, gen: int, n_new: int, records: list[DocRecord], removed: dict[int, int]
    ) -> dict[str, Any]:
        m = self.meta
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
        m = self.meta
        requested = m["index_spec_requested"]
        spec = spec_mod.resolve_spec(requested, len(vectors), self.dim, m["memory_budget_bytes"])
        built = spec_mod.build_index(spec, self.dim, vectors)
        self.live.set(built.index, np.empty(0, np.int64))
        self._pending_spec = {"index_spec_resolved": built.spec, "index_note": built.note}

    def _after_commit(self, old_index_gen: int) -> None:
        self._pending_spec = {}
        if self.meta["index_generation"] != old_index_gen:
            _unlink_quietly(self.index_file(old_index_gen))
        self.write_manifest()

    def write_checkpoint(self) -> None:
        """Write the current in-memory index as the checkpoint of the committed generation."""
        gen = self.meta["generation"]
        old = self.meta["index_generation"]
        updates = {"index_generation": gen, "pending_rows": 0}
        updates["index_file"] = self._write_index_file(gen)
        with self.transaction():
            if self.live.traits.removable:
                self.conn.execute("DELETE FROM dead")
            db.write_meta(self.conn, updates)
        self.meta.update(updates)
        self._after_commit(old)

    def _upgrade_auto_spec(self) -> None:
        """An ``auto`` store re-resolves its spec at checkpoints as it grows (a rebuild)."""
        m = self.meta
        if m["index_spec_requested"].strip().lower() != spec_mod.AUTO:
            return
        wanted = spec_mod.choose_index_spec(m["count"], self.dim, m["memory_budget_bytes"])
        if wanted != m["index_spec_resolved"]:
            self.rebuild()

    def rebuild(self, index_spec: str | None = None, *, rewrite_vectors: bool = False) -> None:
        """A new index from the stored vectors (a new generation); ``rewrite_vectors`` (compact)
        also writes a new vector file without the rows of removed documents."""
        m = self.meta
        gen = m["generation"] + 1
        old_index_gen = m["index_generation"]
        old_vectors = self.vectors.file(m)
        updates: dict[str, Any] = {"generation": gen, "index_generation": gen, "pending_rows": 0}
        segments = None
        try:
            if index_spec is not None:
                m["index_spec_requested"] = updates["index_spec_requested"] = index_spec
            index, note, spec = self._index_from_rows()
            updates.update(index_spec_resolved=spec, index_note=note, updated_at=_utc_now())
            if spec != m["index_spec_resolved"]:
                updates["search_params"] = None  # tuned values belong to the old index kind
            self.live.set(index, np.empty(0, np.int64))
            updates["index_file"] = self._write_index_file(gen) if index is not None else None
            if rewrite_vectors:
                segments = self.vectors.write_without_removed(m, gen)
                updates["vector_file"] = vector_file.file_name(gen)
            with self.transaction():
                self.conn.execute("DELETE FROM dead")
                if segments is not None:
                    self.conn.execute("DELETE FROM vector_segments")
                    db.insert_segments(self.conn, segments)
                db.write_meta(self.conn, updates)
        except BaseException:
            self.load()
            raise
        m.update(updates)
        self.vectors.map(m)
        if segments is not None and old_vectors.name != m["vector_file"]:
            _unlink_quietly(old_vectors)  # open maps of it stay readable (POSIX)
        self._after_commit(old_index_gen)

    def _index_from_rows(self) -> tuple[faiss.Index | None, str | None, str | None]:
        m = self.meta
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
        self._add_rows(built.index)
        return built.index, built.note, built.spec

    def _add_rows(self, index: faiss.Index, added_after: int = -1) -> None:
        """Add the documents added after generation ``added_after`` with their stored vectors."""
        for ids in db.iter_ids(self.conn, added_after=added_after):
            index.add_with_ids(self.vectors.rows(ids), ids)

    def _training_sample(self, seed: int = 0) -> np.ndarray:
        ids = db.all_ids(self.conn)
        if len(ids) > spec_mod.MAX_TRAIN_VECTORS:
            ids = np.random.default_rng(seed).choice(ids, spec_mod.MAX_TRAIN_VECTORS, replace=False)
        return self.vectors.rows(np.sort(ids))

    # ---- internals: files and loading -------------------------------------------------------

    def index_file(self, gen: int) -> Path:
        return self.path / f"index.{gen}.faiss"

    def _write_index_file(self, gen: int) -> dict[str, Any]:
        """Write the checkpoint of generation ``gen``; its record goes into the same commit (a
        Flat index writes none: ``name`` None)."""
        assert self.live.index is not None
        return write_checkpoint_file(self.live.index, self.index_file(gen))

    def committed_index_file(self, meta: dict[str, Any]) -> Path | None:
        """The checkpoint file the commit names (None: a Flat index, filled from the vectors)."""
        record = meta.get("index_file")
        if record is not None and record.get("name") is None:
            return None
        return self.index_file(meta["index_generation"])

    def write_manifest(self) -> None:
        # A mirror of the SQLite meta (the truth), so no fsync.
        atomic_write_text(
            self.path / MANIFEST_NAME,
            json.dumps(self.manifest, indent=2, sort_keys=True) + "\n",
            tmp_name=MANIFEST_NAME + ".tmp",
            durable=False,
        )

    def load(self) -> None:
        """Load the committed state: checkpoint file + replay of later rows and dead ids."""
        with self.loaded_snapshot(force=True):
            pass

    @contextlib.contextmanager
    def loaded_snapshot(self, *, force: bool = False) -> Iterator[None]:
        """One SQLite read snapshot (WAL) for the block, the committed state *of that snapshot*
        loaded first when it is not the one in memory (always with ``force``): what the block
        reads and what is loaded agree however fast a writer commits. A writer may checkpoint or
        compact and delete the snapshot's file meanwhile: then a newer snapshot is taken; still
        missing under fresh ones, the file is lost."""
        for attempt in range(5):
            self.conn.execute("BEGIN")
            try:
                if force or db.committed_generation(self.conn) != self.meta.get("generation"):
                    self.load_in_snapshot()
                break
            except FileNotFoundError as err:
                self.conn.execute("COMMIT")
                if attempt == 4:
                    raise self._missing(Path(err.filename or str(err)).name) from None
                time.sleep(0.05)
            except BaseException:
                self.conn.execute("COMMIT")
                raise
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def _missing(self, name: str) -> StoreDamagedError:
        if name == self.meta.get("vector_file"):
            return self.vectors.damaged(f"its vector file {name} is missing")
        return self.damaged(f"its committed index file {name} is missing")

    def load_in_snapshot(self) -> None:
        """Load meta, vector file, index and dead ids, all read in the caller's snapshot."""
        meta = db.read_meta(self.conn)
        if "format_version" not in meta:
            raise StoreCorruptError(f"{self.path}: not a mixsearch store (empty meta table)")
        refuse_other_format(self.path, meta)
        self.meta = meta
        crash_point("load-meta-read")
        self.vectors.map(meta)
        index = None
        if meta["index_spec_resolved"] is not None and not self._skip_index:
            index = self._index_of_snapshot(meta)
        dead = np.fromiter((r[0] for r in self.conn.execute("SELECT faiss_id FROM dead")), np.int64)
        if index is not None and spec_mod.is_removable(index):
            if len(dead):
                index.remove_ids(dead)  # type: ignore[arg-type]
            dead = np.empty(0, np.int64)
        problem = None if index is None else live_count_problem(index, dead, meta["count"])
        if problem is not None:
            raise self.damaged(problem)
        self._pending_spec = {}
        self.live.set(index, np.sort(dead) if index is not None else np.empty(0, np.int64))

    def _index_of_snapshot(self, meta: dict[str, Any]) -> faiss.Index:
        """The committed index: checkpoint (or an empty Flat index) + the rows added after it."""
        if self.committed_index_file(meta) is None:
            self.vectors.check(meta)  # searched as they are
            no_sample = np.empty((0, self.dim), np.float32)  # a Flat index needs no training
            index = spec_mod.build_index(meta["index_spec_resolved"], self.dim, no_sample).index
            self._add_rows(index)
            return index
        index = self._read_checkpoint(meta)
        if index_file.graph_of(index) is not None:
            self.vectors.check(meta)
            index_file.attach_storage(index, self.vectors.rows(spec_mod.index_ids(index)))
        self._add_rows(index, added_after=meta["index_generation"])
        return index

    def _read_checkpoint(self, meta: dict[str, Any]) -> faiss.Index:
        path = _existing(self.index_file(meta["index_generation"]))
        recorded = meta.get("index_file")
        if recorded is not None and recorded.get("name") != path.name:
            raise self.damaged(
                f"its commit names index file {recorded.get('name')}, not {path.name}"
            )
        try:
            return index_file.read_index_file(path, meta.get("index_file"), meta["dim"])
        except index_file.IndexFileError as err:
            raise self.damaged(
                f"its index file {path.name} is not the committed one: {err}"
            ) from None

    def damaged(self, what: str) -> StoreDamagedError:
        return StoreDamagedError(f"{self.path}: {what}; " + REPAIR_HINT.format(path=self.path))

    def clean_stale_files_if_unlocked(self) -> None:
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
            committed = db.read_meta(self.conn)
            for f in stale_files(self.path, committed, self.committed_index_file(committed)):
                _unlink_quietly(f)
            vector_file.cut_uncommitted_tail(
                self.vectors.file(committed), committed["next_faiss_id"], self.dim
            )
            _unlink_quietly(self.path / (MANIFEST_NAME + ".tmp"))
            _unlink_quietly(self.path / CREATING_NAME)  # a creation killed after its commit
            if committed["generation"] == self.meta["generation"]:
                self.write_manifest()
        finally:
            lock_file.close()


# ---- helpers -----------------------------------------------------------------------------------


def write_checkpoint_file(index: faiss.Index, final: Path) -> dict[str, Any]:
    """Write ``index``'s checkpoint (graph only for HNSW; none for Flat, which is filled from the
    vector file at open: ``name`` None); the record to commit with it."""
    if spec_mod.is_exact(index):
        return {"name": None, "ntotal": int(index.ntotal)}
    return index_file.write_index_file(index, final)


def refuse_other_format(path: Path, meta: dict[str, Any]) -> None:
    version = meta.get("format_version")
    if version == 1:
        raise StoreVersionError(
            f"{path}: store format version 1 (vectors kept twice); this mixsearch reads version "
            f"{FORMAT_VERSION}: run `mixsearch store migrate {path}` once to convert it in place"
        )
    if version != FORMAT_VERSION:
        raise StoreVersionError(
            f"{path}: store format version {version!r}; this mixsearch reads version "
            f"{FORMAT_VERSION}"
        )


def acquire_write_lock(lock_file: Any, path: Path) -> None:
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


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
