"""The SQLite side of the store: schema, meta values, document rows and metadata filters.

SQLite is the store's single commit point: rows, the committed generation, the names of the
FAISS checkpoint and of the vector file, and the checksums of the vector rows each commit appended
(``vector_segments``) change together in one transaction. The vectors themselves are not here:
they are kept once, in the vector file (`vector_file`); format 1 kept them here as BLOBs too
(`mixsearch.store.migrate` converts such stores).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import mmap
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from mixsearch.documents import DocRecord, Modality
from mixsearch.errors import BadInputError, StoreCorruptError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    faiss_id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    modality INTEGER NOT NULL,
    text TEXT,
    image_path TEXT,
    metadata TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    added_gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_added_gen ON docs (added_gen);
CREATE INDEX IF NOT EXISTS docs_modality ON docs (modality);
CREATE TABLE IF NOT EXISTS vector_segments (
    first_row INTEGER PRIMARY KEY,
    rows INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead (faiss_id INTEGER PRIMARY KEY, gen INTEGER NOT NULL);
"""

RECORD_COLUMNS = "faiss_id, doc_id, modality, text, image_path, metadata, content_hash"
RANGE_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
CHUNK_ROWS = 50_000
INT64 = (-(2**63), 2**63 - 1)  # SQLite integers
IDS_PARAM = "(SELECT value FROM json_each(?))"  # one cached statement for any number of ids


def connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) so it is clear
    # what commits together. WAL lets readers keep a consistent snapshot while a writer commits;
    # synchronous=FULL makes a committed transaction survive power loss too.
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    _tune_reads(conn)
    return conn


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write the database (``mode=ro``): read commands never change a
    store. On read-only media SQLite cannot create the WAL's shared-memory file, so the database
    is then opened ``immutable`` — safe only when no write-ahead log holds committed pages that
    the main file lacks, which is checked first (the last writer to close folds it in)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreCorruptError(
                f"{path.parent}: the store is read-only and its write-ahead log {wal.name} holds "
                "commits not yet folded into the database; run `mixsearch verify "
                f"{path.parent} --repair` once where it is writable to fold them in"
            ) from None
        conn = sqlite3.connect(
            uri + "&immutable=1", uri=True, isolation_level=None, check_same_thread=False
        )
    _tune_reads(conn)
    return conn


def _tune_reads(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout=30000")
    # Reads go through mmap and a 64 MB page cache: per-query lookups stay in memory.
    conn.execute("PRAGMA mmap_size=1073741824")
    conn.execute("PRAGMA cache_size=-65536")


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def add_missing_tables(conn: sqlite3.Connection) -> None:
    """The tables and indexes an older format lacks, inside the caller's transaction
    (``executescript`` would commit it first)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def read_meta(conn: sqlite3.Connection) -> dict[str, Any]:
    return {key: json.loads(value) for key, value in conn.execute("SELECT key, value FROM meta")}


def write_meta(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(key, json.dumps(value, sort_keys=True)) for key, value in values.items()],
    )


def ids_json(faiss_ids: Iterable[int]) -> str:
    return json.dumps([int(i) for i in faiss_ids])


def insert_rows(
    conn: sqlite3.Connection,
    records: Sequence[DocRecord],
    faiss_ids: np.ndarray,
    generation: int,
) -> None:
    conn.executemany(
        "INSERT INTO docs (faiss_id, doc_id, modality, text, image_path, metadata, content_hash, "
        "added_gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                int(fid),
                rec.doc_id,
                int(rec.modality),
                rec.text,
                rec.image_path,
                json.dumps(rec.metadata, sort_keys=True),
                rec.content_hash,
                generation,
            )
            for rec, fid in zip(records, faiss_ids, strict=True)
        ),
    )


def delete_rows(conn: sqlite3.Connection, faiss_ids: np.ndarray, generation: int) -> None:
    """Delete rows and remember their ids as dead until the FAISS index has dropped them."""
    payload = ids_json(faiss_ids)
    conn.execute(f"DELETE FROM docs WHERE faiss_id IN {IDS_PARAM}", (payload,))
    conn.executemany(
        "INSERT OR REPLACE INTO dead (faiss_id, gen) VALUES (?, ?)",
        ((int(i), generation) for i in faiss_ids),
    )


def faiss_ids_of(conn: sqlite3.Connection, doc_ids: Sequence[str]) -> dict[str, int]:
    rows = conn.execute(
        f"SELECT doc_id, faiss_id FROM docs WHERE doc_id IN {IDS_PARAM}",
        (json.dumps(list(doc_ids)),),
    )
    return dict(rows)


MODALITIES = tuple(Modality)  # indexing a tuple is much cheaper than calling the enum


def record_from_row(row: tuple) -> DocRecord:
    _, doc_id, modality, text, image_path, metadata, content_hash = row
    return DocRecord(
        doc_id=doc_id,
        modality=MODALITIES[modality],
        text=text,
        image_path=image_path,
        metadata=json.loads(metadata),
        content_hash=content_hash,
    )


def hit_rows(conn: sqlite3.Connection, faiss_ids: Iterable[int]) -> dict[int, tuple]:
    """faiss_id → (doc_id, modality, text, image_path, metadata JSON): what a search hit shows.

    One ``IN (?, ?, ...)`` statement per id count: sqlite3 caches the compiled statement, and
    binding a few integers is cheaper than encoding and parsing them as JSON (``json_each``),
    which matters at ~10 ids per query."""
    ids = [int(i) for i in faiss_ids]
    if len(ids) > MAX_BOUND_IDS:
        return {
            key: row
            for start in range(0, len(ids), MAX_BOUND_IDS)
            for key, row in hit_rows(conn, ids[start : start + MAX_BOUND_IDS]).items()
        }
    rows = conn.execute(_hit_rows_sql(len(ids)), ids)
    return {row[0]: row[1:] for row in rows}


MAX_BOUND_IDS = 512  # larger batches go in several statements (SQLite caps bound parameters)


@functools.lru_cache(maxsize=MAX_BOUND_IDS)
def _hit_rows_sql(n: int) -> str:
    marks = ", ".join("?" * n)
    return (
        "SELECT faiss_id, doc_id, modality, text, image_path, metadata FROM docs "
        f"WHERE faiss_id IN ({marks})"
    )


def records_by_faiss_id(conn: sqlite3.Connection, faiss_ids: Iterable[int]) -> dict[int, DocRecord]:
    rows = conn.execute(
        f"SELECT {RECORD_COLUMNS} FROM docs WHERE faiss_id IN {IDS_PARAM}", (ids_json(faiss_ids),)
    )
    return {row[0]: record_from_row(row) for row in rows}


def present_ids(conn: sqlite3.Connection, faiss_ids: Iterable[int]) -> np.ndarray:
    """Those of ``faiss_ids`` that are documents now, sorted."""
    rows = conn.execute(
        f"SELECT faiss_id FROM docs WHERE faiss_id IN {IDS_PARAM} ORDER BY faiss_id",
        (ids_json(faiss_ids),),
    )
    return np.fromiter((r[0] for r in rows), dtype=np.int64)


def iter_ids(conn: sqlite3.Connection, *, added_after: int = -1) -> Iterator[np.ndarray]:
    """Chunks of the document ids added after a generation, in id order."""
    for rows in chunks_by_id(
        conn,
        "SELECT faiss_id FROM docs WHERE added_gen > ? AND faiss_id > ? ORDER BY faiss_id LIMIT ?",
        (added_after,),
    ):
        yield np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def read_segments(conn: sqlite3.Connection) -> list[tuple[int, int, str]]:
    return list(
        conn.execute("SELECT first_row, rows, sha256 FROM vector_segments ORDER BY first_row")
    )


def insert_segments(conn: sqlite3.Connection, segments: Iterable[tuple[int, int, str]]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO vector_segments (first_row, rows, sha256) VALUES (?, ?, ?)",
        segments,
    )


def doc_ids_in_rows(conn: sqlite3.Connection, first: int, n: int) -> list[str]:
    """doc_ids of the documents whose FAISS ids fall in rows ``first .. first+n-1``."""
    rows = conn.execute(
        "SELECT doc_id FROM docs WHERE faiss_id >= ? AND faiss_id < ? ORDER BY faiss_id",
        (first, first + n),
    )
    return [r[0] for r in rows]


def chunks_by_id(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> Iterator[list[tuple]]:
    """Rows of ``sql`` in chunks of CHUNK_ROWS, paged by FAISS id (the first column): ``sql``
    ends with ``faiss_id > ? ORDER BY faiss_id LIMIT ?``, after ``params``."""
    last = -1
    while True:
        rows = conn.execute(sql, (*params, last, CHUNK_ROWS)).fetchall()
        if not rows:
            return
        yield rows
        last = int(rows[-1][0])


def filter_sql(modality: Any, where: dict | None) -> tuple[str, list[Any]]:
    """A WHERE clause for a modality filter and metadata equality/range conditions."""
    clauses: list[str] = []
    params: list[Any] = []
    if modality is not None:
        codes = [int(Modality.parse(m)) for m in _as_list(modality)]
        if not codes:
            raise BadInputError("modality filter: give at least one of text, image, image+text")
        clauses.append(f"modality IN ({', '.join('?' * len(codes))})")
        params.extend(codes)
    for key, condition in (where or {}).items():
        clause, values = _metadata_condition(key, condition)
        clauses.append(clause)
        params.extend(values)
    return (" AND ".join(clauses) or "1"), params


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set) else [value]


def _metadata_condition(key: str, condition: Any) -> tuple[str, list[Any]]:
    if not isinstance(key, str) or not key or '"' in key:
        raise BadInputError(f"metadata filter key {key!r} must be a non-empty name without quotes")
    path = f'$."{key}"'
    if isinstance(condition, dict):
        unknown = sorted(set(condition) - set(RANGE_OPS))
        if unknown or not condition:
            raise BadInputError(
                f"metadata filter on {key!r}: use operators {', '.join(RANGE_OPS)}, got "
                f"{', '.join(map(str, unknown)) or 'none'}"
            )
        parts = [f"json_extract(metadata, ?) {RANGE_OPS[op]} ?" for op in condition]
        values: list[Any] = []
        for op in condition:
            values.extend([path, _scalar(key, condition[op])])
        return "(" + " AND ".join(parts) + ")", values
    return "json_extract(metadata, ?) = ?", [path, _scalar(key, condition)]


def _scalar(key: str, value: Any) -> Any:
    if value is None or isinstance(value, list | dict | tuple):
        raise BadInputError(
            f"metadata filter on {key!r}: compare with a string, number or boolean, got {value!r}"
        )
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        raise BadInputError(f"metadata filter on {key!r}: {value} does not fit in 64 bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInputError(f"metadata filter on {key!r}: compare with a finite number")
    return int(value) if isinstance(value, bool) else value


def committed_generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(json.loads(row[0]))


def data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits (cheap: no table is read)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


class CommitWatch:
    """Whether a commit may have reached a WAL-mode database since `mark`, for one small read
    instead of ``PRAGMA data_version`` (a SQLite statement: ~7 µs, and ~20 µs right after a
    FAISS search has cooled the caches — most of what a warm search adds to FAISS).

    SQLite rewrites the WAL-index header at the start of the database's ``-shm`` file on every
    commit (its change counter and last frame; https://www.sqlite.org/walformat.html), and keeps
    that file while any connection has it open, as ours does. So a header equal, byte for byte,
    to the one read at `mark` (in a file then linked) means nothing was committed since. Any
    other answer — a changed or unreadable header, no ``-shm`` (an ``immutable`` connection) — is
    "maybe": the caller then asks SQLite. `mark` must come *before* the read whose result the
    caller keeps, so a commit between the two is seen by the next check."""

    HEADER_BYTES = 48  # the first copy of the WAL-index header

    def __init__(self, conn: sqlite3.Connection) -> None:
        main = [row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"]
        self._fd: int | None = None
        self._header: mmap.mmap | None = None  # the header's page, mapped at `mark`
        self._seen: bytes | None = None
        if main and main[0]:
            with contextlib.suppress(OSError):
                self._fd = os.open(main[0] + "-shm", os.O_RDONLY)

    def mark(self) -> None:
        self._unmap()
        fd = self._fd
        if fd is not None and linked_size(fd) >= self.HEADER_BYTES:
            with contextlib.suppress(OSError, ValueError):
                self._header = mmap.mmap(fd, self.HEADER_BYTES, prot=mmap.PROT_READ)
                self._seen = self._header[: self.HEADER_BYTES]

    def unchanged(self) -> bool:
        # The header is read through a mapping, as SQLite itself reads the -shm: a read()
        # system call costs ~15 µs right after a FAISS search has cooled the caches, the
        # mapped bytes ~2 µs. A mapped file cut shorter would fault, but SQLite truncates a
        # -shm only when no connection has it open, and the caller's connection — whose
        # commits and snapshots this watch is about — has (hence, too, no per-call check that
        # the file is still linked).
        header = self._header
        return header is not None and header[: self.HEADER_BYTES] == self._seen

    def _unmap(self) -> None:
        if self._header is not None:
            self._header.close()
        self._header, self._seen = None, None

    def close(self) -> None:
        self._unmap()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def linked_size(fd: int) -> int:
    """The size of the open file ``fd``, 0 if it has been deleted (a -shm no longer the
    database's, maybe made anew)."""
    try:
        stat = os.fstat(fd)
    except OSError:
        return 0
    return stat.st_size if stat.st_nlink > 0 else 0


def all_ids(conn: sqlite3.Connection) -> np.ndarray:
    """Every document's FAISS id, sorted."""
    rows = conn.execute("SELECT faiss_id FROM docs ORDER BY faiss_id")
    return np.fromiter((r[0] for r in rows), dtype=np.int64)
