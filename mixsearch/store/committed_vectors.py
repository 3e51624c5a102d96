"""The committed rows of a store's vector file, as `Commits` uses them: mapping the rows of the
loaded state, appending a commit's rows, checking rows against their checksums, writing the
compacted file. The file format and its commit protocol are `vector_file`'s docstring."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.errors import StoreError
from mixsearch.store import db, vector_file
from mixsearch.store.damage import VectorsDamagedError
from mixsearch.store.integrity import NOT_REPAIRABLE, damaged_rows_message
from mixsearch.store.verified_segments import VerifiedSegments


class CommittedVectors:
    """The vector file of one store directory, as far as its commits go."""

    def __init__(
        self, path: Path, conn: sqlite3.Connection, verified: VerifiedSegments | None = None
    ) -> None:
        self.path = path
        self.conn = conn
        self.current: vector_file.VectorMap | None = None  # the map of the loaded state
        self.verified = verified or VerifiedSegments()  # segments hashed by earlier loads

    def file(self, meta: dict[str, Any]) -> Path:
        return self.path / meta["vector_file"]

    def map(self, meta: dict[str, Any]) -> None:
        """Map the committed rows of ``meta`` (after a commit or a load). A missing file is
        FileNotFoundError: a compact may have replaced it since ``meta`` was read, so the caller
        retries with a newer snapshot before calling it lost."""
        try:
            self.current = vector_file.VectorMap(
                self.file(meta), meta["dim"], meta["next_faiss_id"]
            )
        except vector_file.VectorFileError as err:
            raise self.damaged(str(err)) from None

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of FAISS ids; maps the rows another process appended to the same file
        since the loaded state when asked for one of them. A file compact wrote since then is
        not mapped (it belongs to a newer generation than the reader's index): the reader
        reopens (`StaleVectorsError`)."""
        assert self.current is not None
        if len(ids) and int(ids.max()) >= self.current.rows:
            self._grow(db.read_meta(self.conn))
        return self.current.gather(ids)

    def _grow(self, latest: dict[str, Any]) -> None:
        assert self.current is not None
        if latest["vector_file"] != self.current.path.name:
            raise StaleVectorsError(
                f"{self.path}: another process compacted the store since it was loaded "
                f"(vector file {latest['vector_file']}, not {self.current.path.name}); "
                "open it again to read the documents added since"
            )
        try:
            self.map(latest)
        except FileNotFoundError:  # compacted and cleaned since the meta was read
            raise StaleVectorsError(
                f"{self.path}: another process compacted the store since it was loaded; open "
                "it again to read the documents added since"
            ) from None

    def close(self) -> None:
        """Drop the map (its mapping and file descriptor go with it unless a caller still
        holds rows it returned as views — `gather` returns copies)."""
        self.current = None

    def append(self, meta: dict[str, Any], vectors: np.ndarray) -> vector_file.Segment:
        """Append a commit's rows after ``meta``'s committed ones, durably (before its commit)."""
        try:
            return vector_file.append_rows(self.file(meta), meta["next_faiss_id"], vectors)
        except vector_file.VectorFileError as err:
            raise self.damaged(str(err)) from None

    def check(self, meta: dict[str, Any]) -> None:
        """Refuse rows that differ from their commit's checksum, naming the documents. Segments
        of this file an earlier load already hashed are not hashed again (`verified_segments`)."""
        current = self.current
        assert current is not None
        mapped = [s for s in db.read_segments(self.conn) if s[0] + s[1] <= current.rows]
        fresh = self.verified.unverified(current, mapped)
        damaged = current.damaged_segments(fresh)
        if damaged:
            name = self.file(meta).name
            raise self.damaged("its " + damaged_rows_message(self.conn, name, damaged))
        self.verified.add(current, fresh)

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


class StaleVectorsError(StoreError):
    """A long-lived reader asked for rows committed after a compact it has not loaded."""
