"""On-disk embedding cache: re-encoding unchanged content costs one SQLite lookup.

Keys are (encoder fingerprint id, kind, sha256 of the content) — the bytes of an image file, or
the UTF-8 of a text — so a renamed or copied file still hits, an edited one misses, and two
encoders never share vectors. Vectors are stored as raw float32 blobs (never pickled) in one
SQLite file in WAL mode, which lets several processes read while one writes.

Default directory: ``$MIXSEARCH_CACHE_DIR`` or ``~/.cache/mixsearch/embeddings``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from mixsearch.errors import MixsearchError

CACHE_ENV = "MIXSEARCH_CACHE_DIR"
DB_NAME = "embeddings.sqlite3"
# SQLite's default limit on host parameters per statement is 999 on older builds.
_LOOKUP_CHUNK = 500


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "mixsearch" / "embeddings"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """float32 vectors keyed by (encoder id, kind, content sha256)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.directory / DB_NAME, check_same_thread=False, timeout=30.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                " encoder_id TEXT NOT NULL, kind TEXT NOT NULL, content_sha256 TEXT NOT NULL,"
                " dim INTEGER NOT NULL, vector BLOB NOT NULL,"
                " PRIMARY KEY (encoder_id, kind, content_sha256)) WITHOUT ROWID"
            )
            self._conn.commit()
        except (OSError, sqlite3.Error) as err:
            raise MixsearchError(
                f"cannot open the embedding cache in {self.directory} ({err}); "
                f"set {CACHE_ENV} to a writable folder"
            ) from None
        self._lock = threading.Lock()

    def get_many(self, encoder_id: str, kind: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes`` (missing ones are simply absent)."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        with self._lock:
            for start in range(0, len(unique), _LOOKUP_CHUNK):
                chunk = unique[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    "SELECT content_sha256, dim, vector FROM embeddings WHERE encoder_id = ?"
                    f" AND kind = ? AND content_sha256 IN ({marks})",
                    [encoder_id, kind, *chunk],
                ).fetchall()
                for digest, dim, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (dim,):  # a damaged row is a miss, not a crash
                        found[digest] = vector.copy()
        return found

    def put_many(
        self,
        encoder_id: str,
        kind: str,
        items: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]],
    ) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        rows = []
        for digest, vector in pairs:
            flat = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
            rows.append((encoder_id, kind, digest, int(flat.shape[0]), flat.tobytes()))
        if not rows:
            return
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)", rows)
            self._conn.commit()

    def count(self, encoder_id: str | None = None) -> int:
        with self._lock:
            if encoder_id is None:
                row = self._conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()
            else:
                row = self._conn.execute(
                    "SELECT COUNT(*) FROM embeddings WHERE encoder_id = ?", [encoder_id]
                ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
