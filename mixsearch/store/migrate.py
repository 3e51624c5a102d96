"""`mixsearch store migrate PATH`: convert a format-1 store (every vector kept as a SQLite BLOB and
again in the index checkpoint) to format 2 (vectors kept once, in the vector file), in place.

Under the write lock and crash-safe: the vector file and the new checkpoint (graph only for HNSW,
none for Flat) are written and made durable under the names of a new generation first; one SQLite
transaction then records them with their checksums, drops the BLOB table and raises the format
version; VACUUM then returns the space. Killed before that commit, the store is still the
format-1 store (the new files are stale: the next migrate overwrites them); after it, the format-2
store. The index is the format-1 one — its checkpoint loaded with the rows and removals committed
after it — so searches answer exactly as before.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from mixsearch.errors import StoreCorruptError, StoreNotFoundError, StoreVersionError
from mixsearch.store import db, index_file, layout, validation, vector_file
from mixsearch.store import index_spec as spec_mod
from mixsearch.store.commits import FORMAT_VERSION, acquire_write_lock, write_checkpoint_file
from mixsearch.store.crashpoints import crash_point
from mixsearch.store.live_index import live_count_problem

LEGACY_VERSION = 1


def migrate(path: str | os.PathLike) -> dict[str, Any]:
    """Convert the store at ``path`` to the current format; what was done."""
    path = Path(path)
    if layout.store_state(path) is not layout.StoreState.COMMITTED:
        raise StoreNotFoundError(f"{path}: not a mixsearch store (nothing to migrate)")
    validation.refuse_unwritable(path)
    with open(path / layout.LOCK_NAME, "a+") as lock:
        acquire_write_lock(lock, path)
        conn = db.connect(path / layout.DB_NAME)
        try:
            result = _migrate_locked(path, conn)
        finally:
            conn.close()
    from mixsearch.store import Store

    with Store.open(path) as store:  # cleans the format-1 checkpoint, rewrites the manifest
        store.write_manifest()
    return result


def _migrate_locked(path: Path, conn: sqlite3.Connection) -> dict[str, Any]:
    meta = db.read_meta(conn)
    version = meta.get("format_version")
    if version == FORMAT_VERSION:
        # a migration killed after its commit may not have returned the space yet
        if conn.execute("PRAGMA freelist_count").fetchone()[0]:
            conn.execute("VACUUM")
        return {"store": str(path), "migrated": False, "format_version": version}
    if version != LEGACY_VERSION:
        raise StoreVersionError(f"{path}: store format version {version!r} cannot be migrated")
    gen = meta["generation"] + 1
    dim = int(meta["dim"])
    name = vector_file.file_name(gen)
    index = _legacy_index(path, conn, meta)
    doc_ids = db.all_ids(conn)
    kept = _masked_graph_ids(index, doc_ids)
    segments = vector_file.write_whole_file(
        path / name,
        dim,
        meta["next_faiss_id"],
        np.union1d(doc_ids, kept),
        lambda ids: _stored_rows(conn, index, ids, kept, dim),
    )
    updates: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "vector_file": name,
        "generation": gen,
        "index_generation": gen,
        "pending_rows": 0,
    }
    if index is not None:
        updates["index_file"] = write_checkpoint_file(index, path / f"index.{gen}.faiss")
    crash_point("migrate-files-written")
    conn.execute("BEGIN IMMEDIATE")
    try:
        db.add_missing_tables(conn)
        db.insert_segments(conn, segments)
        conn.execute("DROP TABLE vectors")
        if index is not None and spec_mod.is_removable(index):
            conn.execute("DELETE FROM dead")  # removed from the index below the new checkpoint
        db.write_meta(conn, updates)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    crash_point("migrate-committed")
    conn.execute("VACUUM")
    return {
        "store": str(path),
        "migrated": True,
        "format_version": FORMAT_VERSION,
        "documents": meta["count"],
        "vector_file": name,
    }


def _masked_graph_ids(index: faiss.Index | None, doc_ids: np.ndarray) -> np.ndarray:
    """Removed ids an HNSW graph still holds (masked at search): the graph-only checkpoint gets
    its vectors back from the vector file at open, so their rows must be kept too, or the graph
    would route searches through zero vectors."""
    if index is None or index_file.graph_of(index) is None:
        return np.empty(0, np.int64)
    return np.setdiff1d(spec_mod.index_ids(index), doc_ids)


def _stored_rows(
    conn: sqlite3.Connection, index: Any, ids: np.ndarray, kept: np.ndarray, dim: int
) -> np.ndarray:
    """Rows of ``ids``: documents' BLOBs; removed graph nodes (format 1 dropped their BLOBs)
    from the legacy index's own full-vector storage."""
    in_graph_only = np.isin(ids, kept)
    rows = np.empty((len(ids), dim), np.float32)
    rows[~in_graph_only] = _blobs(conn, ids[~in_graph_only], dim)
    for row, fid in zip(np.flatnonzero(in_graph_only), ids[in_graph_only], strict=True):
        rows[row] = index.reconstruct(int(fid))
    return rows


def _blobs(conn: sqlite3.Connection, ids: np.ndarray, dim: int) -> np.ndarray:
    """The format-1 BLOB vectors of ``ids``, in that order."""
    rows = dict(
        conn.execute(
            f"SELECT faiss_id, vector FROM vectors WHERE faiss_id IN {db.IDS_PARAM}",
            (db.ids_json(ids),),
        )
    )
    missing = [int(i) for i in ids if int(i) not in rows]
    if missing:
        raise StoreCorruptError(
            f"format-1 store: no stored vector for FAISS id(s) {validation.names(missing)}"
        )
    wrong = [int(i) for i in ids if len(rows[int(i)]) != dim * 4]
    if wrong:
        raise StoreCorruptError(
            f"format-1 store: the stored vector of FAISS id(s) {validation.names(wrong)} is not "
            f"{dim} float32 values; not migrated"
        )
    return np.frombuffer(b"".join(rows[int(i)] for i in ids), np.float32).reshape(-1, dim)


def _legacy_index(path: Path, conn: sqlite3.Connection, meta: dict[str, Any]) -> faiss.Index | None:
    """The committed format-1 index: its checkpoint, the rows added after it, removals applied."""
    if meta["index_spec_resolved"] is None:
        return None
    dim, index_gen = int(meta["dim"]), meta["index_generation"]
    checkpoint = path / f"index.{index_gen}.faiss"
    try:
        index = index_file.read_index_file(checkpoint, meta.get("index_file"), dim)
    except (OSError, index_file.IndexFileError) as err:
        raise StoreCorruptError(
            f"{path}: its format-1 index file {checkpoint.name} is unusable ({err}); run "
            "`mixsearch verify --repair` with the mixsearch that wrote it, then migrate"
        ) from None
    for ids in db.iter_ids(conn, added_after=index_gen):
        index.add_with_ids(_blobs(conn, ids, dim), ids)
    dead = np.fromiter((r[0] for r in conn.execute("SELECT faiss_id FROM dead")), np.int64)
    if spec_mod.is_removable(index) and len(dead):
        index.remove_ids(dead)  # type: ignore[arg-type]
        dead = np.empty(0, np.int64)
    problem = live_count_problem(index, dead, meta["count"])
    if problem is not None:
        raise StoreCorruptError(f"{path}: format-1 store: {problem}; not migrated")
    return index
