"""The committed rows of a store's vector file, as `Commits` uses them: mapping the rows of the
loaded state, appending a commit's rows, checking rows against their checksums, writing the
compacted file. The file format and its commit protocol are `vector_file`'s docstring."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.store import db, vector_file
from mixsearch.store.damage import VectorsDamagedError
from mixsearch.store.integrity import NOT_REPAIRABLE, damaged_rows_message


class CommittedVectors:
    """The vector file of one store directory, as far as its commits go."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.current: vector_file.VectorMap | None = None  # the map of the loaded state

    def file(self, meta: dict[str, Any]) -> Path:
        return self.path / meta["vector_file"]

    def map(self, meta: dict[str, Any]) -> None:
        """Map the committed rows of ``meta`` (after a commit or a load)."""
        try:
            self.current = vector_file.VectorMap(
                self.file(meta), meta["dim"], meta["next_faiss_id"]
            )
        except vector_file.VectorFileError as err:
            raise self.damaged(str(err)) from None

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of FAISS ids; maps the rows another process committed since the loaded
        state when asked for one of them."""
        assert self.current is not None
        if len(ids) and int(ids.max()) >= self.current.rows:
            self.map(db.read_meta(self.conn))
        return self.current.gather(ids)

    def append(self, meta: dict[str, Any], vectors: np.ndarray) -> vector_file.Segment:
        """Append a commit's rows after ``meta``'s committed ones, durably (before its commit)."""
        try:
            return vector_file.append_rows(self.file(meta), meta["next_faiss_id"], vectors)
        except vector_file.VectorFileError as err:
            raise self.damaged(str(err)) from None

    def check(self, meta: dict[str, Any]) -> None:
        """Refuse rows that differ from their commit's checksum, naming the documents."""
        assert self.current is not None
        damaged = self.current.damaged_segments(db.read_segments(self.conn))
        if damaged:
            name = self.file(meta).name
            raise self.damaged("its " + damaged_rows_message(self.conn, name, damaged))

    def write_without_removed(self, meta: dict[str, Any], gen: int) -> list[vector_file.Segment]:
        """The vector file of generation ``gen`` with holes for removed documents (compact)."""
        assert self.current is not None
        return vector_file.write_whole_file(
            self.path / vector_file.file_name(gen),
            meta["dim"],
            meta["next_faiss_id"],
            db.all_ids(self.conn),
            self.current.gather,
        )

    def damaged(self, what: str) -> VectorsDamagedError:
        return VectorsDamagedError(f"{self.path}: {what} {NOT_REPAIRABLE}")
