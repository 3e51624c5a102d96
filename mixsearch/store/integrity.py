"""Consistency checks between the SQLite table, the FAISS index and the files on disk.

They read a `StoreSnapshot` (`Store.snapshot`): a read-only view of one committed state, so a
check neither reaches into the store nor reloads it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from mixsearch.store import db
from mixsearch.store import index_spec as spec_mod
from mixsearch.store.layout import stale_files
from mixsearch.store.validation import names
from mixsearch.store.vector_file import Segment, VectorMap, affected_range


@dataclass(frozen=True)
class StoreSnapshot:
    """One committed state of a store, for reading only."""

    path: Path
    meta: Mapping[str, Any]  # the committed meta (a copy)
    index: faiss.Index | None  # the loaded index of that generation
    dead: np.ndarray  # removed ids the index still holds, masked (HNSW)
    conn: sqlite3.Connection  # inside a read snapshot of that generation: SELECTs only
    index_file: Path | None  # the committed checkpoint file (None: Flat, filled from vectors)
    vectors_for: Callable[[np.ndarray], np.ndarray]  # stored vectors by FAISS id
    vectors: VectorMap | None  # the committed rows of the vector file
    vector_segments: list[Segment]  # their recorded checksums

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])


SAMPLE_RECONSTRUCT = 64
NOT_REPAIRABLE = (
    "(not repairable: the vector file is their one copy; restore the store from a backup, or "
    "remove those documents and index them again)"
)


@dataclass
class IntegrityReport:
    """``ok`` is False when any problem was found; ``notes`` are harmless observations."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    documents: int = 0
    index_total: int = 0
    vectors_damaged: bool = False  # a rebuild would index the damaged vectors: not repaired

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
            "documents": self.documents,
            "index_total": self.index_total,
        }


def check_store(store: StoreSnapshot) -> IntegrityReport:
    report = IntegrityReport()
    conn, meta = store.conn, store.meta
    quick = conn.execute("PRAGMA quick_check").fetchone()[0]
    if quick != "ok":
        report.problems.append(f"SQLite quick_check: {quick}")
    table_ids = np.fromiter((r[0] for r in conn.execute("SELECT faiss_id FROM docs")), np.int64)
    report.documents = len(table_ids)
    _check_table(store, table_ids, report)
    _check_index(store, table_ids, report)
    _check_files(store, report)
    if meta["index_generation"] > meta["generation"]:
        report.problems.append(
            f"index generation {meta['index_generation']} is ahead of the committed "
            f"generation {meta['generation']}"
        )
    return report


def _check_table(store: StoreSnapshot, table_ids: np.ndarray, report: IntegrityReport) -> None:
    conn, meta = store.conn, store.meta
    if meta["count"] != len(table_ids):
        report.problems.append(f"manifest count {meta['count']} != {len(table_ids)} table rows")
    by_modality = {
        str(m): n
        for m, n in conn.execute(
            "SELECT modality, count(*) FROM docs GROUP BY modality ORDER BY modality"
        )
    }
    if by_modality != meta["modality_counts"]:
        report.problems.append(
            f"modality counts {meta['modality_counts']} != table counts {by_modality}"
        )
    _check_vector_rows(store, report)
    if len(table_ids) and table_ids.max() >= meta["next_faiss_id"]:
        report.problems.append("a FAISS id in the table is not below next_faiss_id")
    live_dead = conn.execute(
        "SELECT count(*) FROM dead WHERE faiss_id IN (SELECT faiss_id FROM docs)"
    ).fetchone()[0]
    if live_dead:
        report.problems.append(f"{live_dead} ids are both live documents and marked dead")


def _check_vector_rows(store: StoreSnapshot, report: IntegrityReport) -> None:
    """The vector file covers every committed row and matches the recorded checksums."""
    rows = int(store.meta["next_faiss_id"])
    covered = sum(n for _, n, _ in store.vector_segments)
    starts = [first for first, _, _ in store.vector_segments]
    if covered != rows or starts != sorted(set(starts)):
        report.problems.append(f"checksums recorded for {covered} vector rows, {rows} committed")
    if store.vectors is None:
        return
    damaged = store.vectors.damaged_segments(store.vector_segments)
    if damaged:
        report.problems.append(
            damaged_rows_message(store.conn, store.vectors.path.name, damaged)
            + " "
            + NOT_REPAIRABLE
        )
        report.vectors_damaged = True


def damaged_rows_message(
    conn: sqlite3.Connection, name: str, damaged: list[tuple[int, int]]
) -> str:
    """What a vector file whose rows differ from their checksums affects: rows and documents."""
    docs = [d for first, n in damaged for d in db.doc_ids_in_rows(conn, first, n)]
    rows = ", ".join(affected_range(seg) for seg in damaged)
    return (
        f"vector file {name} differs from the checksums its commits recorded ({rows}): the "
        f"vectors of {len(docs)} document(s) are damaged" + (f": {names(docs)}" if docs else "")
    )


def _check_index(store: StoreSnapshot, table_ids: np.ndarray, report: IntegrityReport) -> None:
    index = store.index
    if index is None:
        if len(table_ids):
            report.problems.append(f"{len(table_ids)} documents but no FAISS index")
        return
    report.index_total = int(index.ntotal)
    index_ids = spec_mod.index_ids(index)
    if len(index_ids) != index.ntotal:
        report.problems.append(f"index lists {len(index_ids)} ids for {index.ntotal} vectors")
    live = np.setdiff1d(index_ids, store.dead)
    unresolvable = np.setdiff1d(live, table_ids)
    unindexed = np.setdiff1d(table_ids, live)
    if len(unresolvable):
        report.problems.append(f"{len(unresolvable)} FAISS ids have no document row")
    if len(unindexed):
        report.problems.append(f"{len(unindexed)} documents are missing from the FAISS index")
    if len(live) != len(table_ids):
        report.problems.append(
            f"FAISS holds {len(live)} live vectors but the table {len(table_ids)} documents"
        )
    if len(store.dead):
        report.notes.append(f"{len(store.dead)} removed ids masked in the HNSW graph (compact)")
    if spec_mod.is_exact(index) or spec_mod.is_hnsw(index):
        _check_vectors(store, np.intersect1d(live, table_ids), report)


def _check_vectors(store: StoreSnapshot, ids: np.ndarray, report: IntegrityReport) -> None:
    """Indexed vectors equal the stored ones (indexes that keep full vectors only)."""
    sample = ids[np.linspace(0, len(ids) - 1, min(len(ids), SAMPLE_RECONSTRUCT)).astype(int)]
    if not len(sample):
        return
    stored = store.vectors_for(sample)
    index = store.index
    assert index is not None
    indexed = np.stack([index.reconstruct(int(i)) for i in sample])
    mismatched = int((np.abs(stored - indexed).max(axis=1) > 1e-5).sum())
    if mismatched:
        report.problems.append(f"{mismatched} of {len(sample)} sampled vectors differ from FAISS")


def _check_files(store: StoreSnapshot, report: IntegrityReport) -> None:
    meta, committed = store.meta, store.index_file
    if meta["index_spec_resolved"] is not None and committed and not committed.is_file():
        report.problems.append(f"committed index file {committed.name} is missing")
    stale = [f.name for f in stale_files(store.path, dict(meta), committed)]
    if stale:
        report.notes.append(f"stale files (removed by the next writer): {', '.join(stale)}")
