"""An in-memory copy of part of the document table, for one committed generation.

Two lookups on the search path ask SQLite a small question per call: what the hits show
(`hit_table`) and which FAISS ids are documents (`present_ids`). Each can instead answer from a
copy read in one scan, once that pays: a `GenerationCache` builds its copy once the SQLite
lookups of the generation have cost as much as the scan is estimated to (at most twice the
better choice in hindsight, the ski-rental bound), or at once when asked (`load`, or
``usable(at_once=True)``). A graph store's filter partitions (`filter_partitions`) use the same
rule with another slow path: the filter's widened graph searches stand in for SQLite lookups.

Validity: a copy holds one generation, read in one SQLite snapshot, and is used only while the
store's loaded generation is that one *and* the database has not moved past it. That is checked
per call: the WAL-index header unchanged since the last check (`db.CommitWatch`, one small read);
else ``PRAGMA data_version``, which changes when another connection commits, and the committed
generation (a commit of settings leaves the copy valid). Once another process has committed past
the generation, SQLite answers for the rest of it — it sees that process's removals; a reader of
a newer generation reopens the store.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Sized
from typing import Generic, TypeVar

from mixsearch.store import db

T = TypeVar("T", bound=Sized)


class GenerationCache(Generic[T]):
    """A copy built by ``build(conn, generation)`` (inside a read snapshot of that generation),
    whose ``len`` is the rows it scanned; ``s_per_row`` is the first estimate of a scan's cost."""

    def __init__(self, build: Callable[[sqlite3.Connection, int], T], s_per_row: float) -> None:
        self._build = build
        self._value: T | None = None
        self._generation: int | None = None  # the generation the counters below belong to
        self._data_version: int | None = None  # the database's, when the copy was checked
        self._watch: db.CommitWatch | None = None  # has anything committed since that check?
        self._sqlite_s = 0.0  # spent on SQLite lookups in this generation
        self._s_per_row = s_per_row

    @property
    def value(self) -> T | None:
        """The copy in hand, checked or not."""
        return self._value

    def usable(
        self, conn: sqlite3.Connection, generation: int, count: int, *, at_once: bool = False
    ) -> T | None:
        """The copy when it holds what the database holds at ``generation`` (``count`` rows);
        built now when the SQLite lookups of this generation have cost as much, or ``at_once``
        (a reader that asked for copies up front), unless the database has moved past it (else
        None: the caller asks SQLite and reports the time with `paid`)."""
        value = self._value
        if value is not None and generation == self._generation:
            watch = self._watch  # nothing committed since the last check, or SQLite says so
            if (watch is not None and watch.unchanged()) or self._current(conn, generation):
                return value
        if generation != self._generation:
            self._value, self._generation, self._sqlite_s = None, generation, 0.0
        if self._value is not None:
            self._moved_past()
        if self._sqlite_s >= (0.0 if at_once else count * self._s_per_row):
            return self.load(conn, generation)
        return None

    def paid(self, seconds: float) -> None:
        """What one SQLite lookup instead of the copy cost."""
        self._sqlite_s += seconds

    def load(self, conn: sqlite3.Connection, generation: int) -> T | None:
        """Build the copy of ``generation`` now; None when the database has moved past it."""
        in_snapshot = conn.in_transaction
        if not in_snapshot:
            self._mark(conn)
            conn.execute("BEGIN")
        try:
            if db.committed_generation(conn) != generation:
                self._moved_past()
                return None
            t0 = time.perf_counter()
            value = self._build(conn, generation)
            seconds = time.perf_counter() - t0
            self._data_version = db.data_version(conn)
        finally:
            if not in_snapshot:
                conn.execute("COMMIT")
        self._value, self._generation = value, generation
        if len(value):
            self._s_per_row = seconds / len(value)
        return value

    def clear(self) -> None:
        self._value = None
        self._generation = None
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def _moved_past(self) -> None:
        # generations never go back: no copy of this one again
        self._value, self._sqlite_s = None, -math.inf

    def _mark(self, conn: sqlite3.Connection) -> None:
        """Note the WAL-index header before reading the data version to keep. Only outside a
        read snapshot: inside one, the version read is the snapshot's, older than the header."""
        if conn.in_transaction:
            return
        if self._watch is None:
            self._watch = db.CommitWatch(conn)
        self._watch.mark()

    def _current(self, conn: sqlite3.Connection, generation: int) -> bool:
        self._mark(conn)
        version = db.data_version(conn)
        if version == self._data_version:
            return True
        # Another connection committed something: a setting (still current) or a generation.
        if db.committed_generation(conn) != generation:
            return False
        self._data_version = version
        return True
