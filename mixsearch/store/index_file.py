"""FAISS checkpoint files that prove on every open they belong to this store and this commit.

A checkpoint is written to a temp name, fsynced and renamed before the SQLite transaction that
names it commits; that transaction also records the file's size, sha256 and vector count. Opening
reads the file once through a hashing reader (FAISS's callback reader: the bytes are hashed as
FAISS parses them, so the check costs no second pass over the file) and refuses a file whose size,
checksum, dimension or vector count differs from the record: a byte flip, a truncation, or a
checkpoint copied from another store would otherwise be searched as if it were this one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO, Any

import faiss

from mixsearch.vectors import atomic_write

READ_BLOCK = 1 << 20


class IndexFileError(Exception):
    """The checkpoint file is not the one the commit recorded (the reason is the message)."""


def write_index_file(index: faiss.Index, final: Path) -> dict[str, Any]:
    """Write ``index`` to ``final`` atomically and durably; the record to commit beside it."""
    digest = hashlib.sha256()
    size = 0

    def write(handle: IO[bytes]) -> None:
        def chunk_out(chunk: bytes) -> None:
            nonlocal size
            digest.update(chunk)
            handle.write(chunk)
            size += len(chunk)

        faiss.write_index(index, faiss.PyCallbackIOWriter(chunk_out))  # type: ignore[attr-defined]

    # sync_dir: the rename itself is durable before the transaction naming the file commits
    atomic_write(final, write, sync_dir=True, tmp_name=final.name + ".tmp")
    return {
        "name": final.name,
        "bytes": size,
        "sha256": digest.hexdigest(),
        "ntotal": int(index.ntotal),
    }


def read_index_file(path: Path, recorded: dict[str, Any] | None, dim: int) -> faiss.Index:
    """Load a checkpoint, checking it against its commit record (``None``: a store written before
    records existed — only the dimension can be checked). Raises FileNotFoundError when absent."""
    size = path.stat().st_size
    if recorded is not None and size != recorded["bytes"]:
        raise IndexFileError(f"it has {size} bytes, its commit recorded {recorded['bytes']}")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:

        def read(n: int) -> bytes:
            chunk = handle.read(n)
            digest.update(chunk)
            return chunk

        try:
            index = faiss.read_index(faiss.PyCallbackIOReader(read, READ_BLOCK))  # type: ignore[attr-defined]
        except RuntimeError as err:
            if recorded is not None and _rest_digest(handle, digest) != recorded["sha256"]:
                raise IndexFileError(
                    "its checksum differs from the one its commit recorded"
                ) from None
            raise IndexFileError(f"FAISS cannot read it ({_first_line(err)})") from None
        rest = _rest_digest(handle, digest)
    if recorded is not None and rest != recorded["sha256"]:
        raise IndexFileError(
            "its checksum differs from the one its commit recorded (damaged, or another store's)"
        )
    if index.d != dim:
        raise IndexFileError(f"it holds {index.d}-dimensional vectors, the store {dim}")
    if recorded is not None and index.ntotal != recorded["ntotal"]:
        raise IndexFileError(
            f"it holds {index.ntotal} vectors, its commit recorded {recorded['ntotal']}"
        )
    return index


def _rest_digest(handle: Any, digest: Any) -> str:
    """Hash whatever FAISS did not read (trailing bytes count too), then the hex digest."""
    for block in iter(lambda: handle.read(READ_BLOCK), b""):
        digest.update(block)
    return str(digest.hexdigest())


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    # FAISS messages end with the reason after the C++ location lines
    return lines[-1] if lines else type(err).__name__
