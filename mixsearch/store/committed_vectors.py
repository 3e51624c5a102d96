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
            self.current = self._map_of(meta)
        except vector_file.VectorFileError as err:
            raise self.damaged(str(err)) from None

    def _map_of(self, meta: dict[str, Any]) -> vector_file.VectorMap:
        return vector_file.VectorMap(self.file(meta), meta["dim"], meta["next_faiss_id"])

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
        """Map the rows another process appended since the load; the error says what is known
        when that cannot be done: the file was compacted away, is missing or is too short."""
        assert self.current is not None
        loaded = self.current.path.name
        if latest["vector_file"] == loaded:
            try:
                self.current = self._map_of(latest)
                return
            except FileNotFoundError:
                latest = db.read_meta(self.conn)  # a compact may have replaced it since
                if latest["vector_file"] == loaded:
                    raise self._lost(
                        f"its vector file {loaded} is missing: deleted or moved since this "
                        "reader loaded it, and not by a compaction (the commits still name it)"
                    ) from None
            except vector_file.VectorFileError as err:
                raise self._lost(str(err)) from None
        raise StaleVectorsError(self._compacted_message(loaded, latest["vector_file"]))

    def _compacted_message(self, loaded: str, committed: str) -> str:
        generation = vector_file.generation_of(committed)
        to = f"generation {generation} ({committed})" if generation is not None else committed
        return (
            f"{self.path}: this reader loaded vector file {loaded}; another process has since "
            f"compacted the store, replacing it by the vector file of {to}, which holds the "
            "documents added since: open the store again to read them"
        )

    def _lost(self, what: str) -> VectorsDamagedError:
        """Committed rows a reader cannot map: not a race, damage (a reopen fails the same)."""
        return self.damaged(
            f"{what}; `mixsearch verify {self.path}` reports the damaged documents, and the "
            "store opens again once the file is restored"
        )

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
    """A long-lived reader asked for rows committed after a compact it has not loaded: it opens
    the store again. (A vector file missing or shorter than committed is `VectorsDamagedError`.)"""
