"""The store's float32 vectors, kept once: one append-only file, row = FAISS id.

``vectors.<gen>.f32`` holds the vector of FAISS id ``i`` at byte ``i * dim * 4``. FAISS ids are
dense and never reused, so once committed the file is exactly ``next_faiss_id`` rows long. A
commit appends its rows and fsyncs them *before* the SQLite transaction that raises
``next_faiss_id`` and records the appended segment's sha256 (table ``vector_segments``); readers
map only the committed rows, so bytes past them — a writer killed between the two steps — are
never read, and the next writer cuts them off. Rows of removed documents stay until compact, which
writes the file of a new generation with those rows left as holes (sparse on Linux file systems:
they read as zeros and take no disk) and commits its name, as index checkpoints are committed.

The rows are memory-mapped read-only: exact re-scoring, exact filtered scoring, training samples,
rebuilds and filling an index at open read them from the page cache, with no copy in SQLite.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from mixsearch.vectors import atomic_write_path, fsync_path

SEGMENT_ROWS = 16_384  # checksum granularity of files written whole (compact, migrate)
HASH_ROWS = 16_384  # rows hashed per step (bounded memory)

Segment = tuple[int, int, str]  # (first row, rows, sha256 of their bytes)


class VectorFileError(Exception):
    """The vector file is not what the commits recorded (the reason is the message)."""


def file_name(generation: int) -> str:
    return f"vectors.{generation}.f32"


def generation_of(name: str) -> int | None:
    """The generation whose commit wrote the vector file ``name`` (None: not such a name)."""
    number = name.removeprefix("vectors.").removesuffix(".f32")
    return int(number) if number.isdigit() and file_name(int(number)) == name else None


class VectorMap:
    """The committed rows of one vector file, memory-mapped read-only."""

    def __init__(self, path: Path, dim: int, rows: int) -> None:
        self.path = path
        self.dim = dim
        self.rows = rows
        # (device, inode) of the file mapped (None: no rows, nothing mapped): a file replaced
        # under the same name is another file, whose rows nobody has verified
        self.identity: tuple[int, int] | None
        self._array, self.identity = _map_rows(path, dim, rows)

    def gather(self, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """The rows of ``ids`` [n, dim] (a copy), in that order."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= self.rows):
            raise IndexError(f"FAISS ids outside the {self.rows} committed vector rows")
        return np.ascontiguousarray(self._array[ids], dtype=np.float32)

    def damaged_segments(self, segments: Iterable[Segment]) -> list[tuple[int, int]]:
        """(first row, rows) of every segment whose bytes differ from its recorded checksum;
        segments past the mapped rows (committed after this map's state) are not checked."""
        return [
            (first, n)
            for first, n, digest in segments
            if first + n <= self.rows and self._digest(first, n) != digest
        ]

    def _digest(self, first: int, n: int) -> str:
        if first < 0 or first + n > self.rows:  # slicing would silently hash fewer rows
            raise IndexError(
                f"{self.path.name}: rows {first}-{first + n - 1} are past the {self.rows} mapped"
            )
        digest = hashlib.sha256()
        for start in range(first, first + n, HASH_ROWS):
            digest.update(self._array[start : min(first + n, start + HASH_ROWS)].tobytes())
        return digest.hexdigest()


def _map_rows(path: Path, dim: int, rows: int) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The map of ``rows`` rows and the (device, inode) of the file mapped; FileNotFoundError
    when the file is missing, which for a reader may mean a compact replaced it after the reader
    read its name (a newer snapshot names the new one), so only the caller can tell a race from
    damage."""
    if rows == 0:
        return np.empty((0, dim), np.float32), None
    # opened once: the size checked is that of the file mapped, even if it is unlinked between
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        if stat.st_size < rows * dim * 4:
            raise VectorFileError(
                f"its vector file {path.name} holds {stat.st_size // (dim * 4)} rows, its "
                f"commits recorded {rows}"
            )
        array = np.memmap(handle, dtype=np.float32, mode="r", shape=(rows, dim))
        return array, (stat.st_dev, stat.st_ino)


def append_rows(path: Path, committed_rows: int, vectors: np.ndarray) -> Segment:
    """Append ``vectors`` after the ``committed_rows`` rows (dropping any bytes a killed writer
    left past them) and make them durable; the segment record to commit with them."""
    row_bytes = vectors.shape[1] * 4
    keep = committed_rows * row_bytes
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+b") as handle:
        size = os.fstat(fd).st_size
        if size < keep:  # truncate() would pad the missing rows with zeros
            raise VectorFileError(
                f"its vector file {path.name} holds {size // row_bytes} rows, its commits "
                f"recorded {committed_rows}"
            )
        handle.truncate(keep)
        handle.seek(keep)
        data = np.ascontiguousarray(vectors, dtype=np.float32).data.cast("B")  # no copy
        handle.write(data)
        handle.flush()
        os.fsync(fd)
    if committed_rows == 0:
        # the name must be durable before the commit that relies on it; a first commit syncs
        # the directory even when the file was already there (made by a killed first writer
        # whose directory entry may never have reached the disk)
        fsync_path(path.parent)
    return committed_rows, len(vectors), hashlib.sha256(data).hexdigest()


def cut_uncommitted_tail(path: Path, committed_rows: int, dim: int) -> None:
    """Drop the bytes a killed writer appended past the committed rows (the lock is held)."""
    keep = committed_rows * dim * 4
    try:
        if path.stat().st_size > keep:
            os.truncate(path, keep)
    except FileNotFoundError:
        return


def write_whole_file(
    path: Path,
    dim: int,
    total_rows: int,
    live_ids: np.ndarray,
    rows_of: Callable[[np.ndarray], np.ndarray],
) -> list[Segment]:
    """Write a new vector file of ``total_rows`` rows holding the rows of ``live_ids`` (sorted;
    ``rows_of`` gives their vectors) and holes elsewhere, atomically and durably; its segments."""
    segments: list[Segment] = []

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            for first in range(0, total_rows, SEGMENT_ROWS):
                stop = min(total_rows, first + SEGMENT_ROWS)
                lo, hi = np.searchsorted(live_ids, [first, stop])
                ids = live_ids[lo:hi]
                block = np.zeros((stop - first, dim), np.float32)
                block[ids - first] = rows_of(ids)
                _write_runs(handle, block, ids - first, first * dim * 4)
                segments.append((first, stop - first, hashlib.sha256(block.tobytes()).hexdigest()))
            handle.truncate(total_rows * dim * 4)  # trailing holes count as rows too

    atomic_write_path(path, fill, sync_dir=True, tmp_name=path.name + ".tmp")
    return segments


def _write_runs(handle: object, block: np.ndarray, rows: np.ndarray, offset: int) -> None:
    """Write only the runs of consecutive ``rows`` of ``block``: the gaps stay holes."""
    if not len(rows):
        return
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    row_bytes = block.shape[1] * 4
    for run in np.split(rows, breaks):
        handle.seek(offset + int(run[0]) * row_bytes)  # type: ignore[attr-defined]
        handle.write(block[run[0] : run[-1] + 1].tobytes())  # type: ignore[attr-defined]


def affected_range(segment: tuple[int, int]) -> str:
    first, n = segment
    return f"rows {first}-{first + n - 1}"
