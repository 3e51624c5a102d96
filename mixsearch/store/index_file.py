"""FAISS checkpoint files that prove on every open they belong to this store and this commit.

A checkpoint is written to a temp name, fsynced and renamed before the SQLite transaction that
names it commits; that transaction also records the file's size, sha256 and vector count. Opening
reads the file once through a hashing reader (FAISS's callback reader: the bytes are hashed as
FAISS parses them, so the check costs no second pass over the file) and refuses a file whose size,
checksum, dimension or vector count differs from the record: a byte flip, a truncation, or a
checkpoint copied from another store would otherwise be searched as if it were this one.

An HNSW graph over full vectors (``IndexHNSWFlat`` in an ``IndexIDMap2``) is written *graph only*
(FAISS's ``IO_FLAG_SKIP_STORAGE``): its vectors are already in the store's vector file, and
`attach_storage` puts them back after reading. Other indexes are written whole: an IVF or PQ
index's codes are not a copy of the vectors, and a Flat index has no checkpoint at all.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import IO, Any

import faiss
import numpy as np

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

        graph = graph_of(index)
        if graph is None:
            faiss.write_index(index, faiss.PyCallbackIOWriter(chunk_out))  # type: ignore[attr-defined]
        else:
            _write_graph_only(index, graph, chunk_out)

    # sync_dir: the rename itself is durable before the transaction naming the file commits
    atomic_write(final, write, sync_dir=True, tmp_name=final.name + ".tmp")
    return {
        "name": final.name,
        "bytes": size,
        "sha256": digest.hexdigest(),
        "ntotal": int(index.ntotal),
        "graph_only": graph_of(index) is not None,
    }


def graph_of(index: faiss.Index) -> Any:
    """The HNSW index inside an ``IndexIDMap2`` whose storage is plain float vectors, else None:
    the indexes whose checkpoint leaves the vectors out."""
    if not isinstance(index, faiss.IndexIDMap2):
        return None
    inner = faiss.downcast_index(index.index)
    return inner if isinstance(inner, faiss.IndexHNSWFlat) else None


def _write_graph_only(index: faiss.Index, graph: Any, out: Any) -> None:
    """The bytes FAISS writes for the ``IndexIDMap2``, except that the inner HNSW index is written
    with ``IO_FLAG_SKIP_STORAGE`` (FAISS does not pass the flag through the id map itself)."""
    out(idmap2_header(index))
    writer = faiss.PyCallbackIOWriter(out)  # type: ignore[attr-defined]
    faiss.write_index(graph, writer, faiss.IO_FLAG_SKIP_STORAGE)  # type: ignore[attr-defined]
    del writer  # flushes its buffer before the id map follows
    id_map: Any = index  # an IndexIDMap2 (the stubs type it as Index)
    ids = faiss.vector_to_array(id_map.id_map).astype("<i8")
    out(struct.pack("<Q", len(ids)) + ids.tobytes())


def idmap2_header(index: faiss.Index) -> bytes:
    """FAISS's ``IxM2`` fourcc and index header (d, ntotal, two reserved words, is_trained,
    metric) — `tests/store/test_vector_file.py` checks it against FAISS's own serialization."""
    if index.metric_type > 1:  # METRIC_INNER_PRODUCT / L2: no metric argument follows
        raise ValueError(
            f"graph-only checkpoints support IP and L2 metrics, not {index.metric_type}"
        )
    reserved = 1 << 20
    return struct.pack(
        "<4siqqqBi",
        b"IxM2",
        index.d,
        index.ntotal,
        reserved,
        reserved,
        index.is_trained,
        index.metric_type,
    )


def attach_storage(index: faiss.Index, vectors: np.ndarray) -> None:
    """Give a graph-only HNSW index read from a checkpoint its vectors back (the rows of its id
    map, in that order); FAISS then owns them."""
    wrapper: Any = index  # an IndexIDMap2 around an IndexHNSWFlat (the stubs type them Index)
    graph: Any = faiss.downcast_index(wrapper.index)
    storage: Any = faiss.IndexFlat(index.d, graph.metric_type)
    storage.add(np.ascontiguousarray(vectors, dtype=np.float32))  # type: ignore[call-arg]
    graph.storage = storage
    storage.this.disown()
    graph.own_fields = True


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
            flags = faiss.IO_FLAG_SKIP_STORAGE if recorded and recorded.get("graph_only") else 0  # type: ignore[attr-defined]
            reader = faiss.PyCallbackIOReader(read, READ_BLOCK)  # type: ignore[attr-defined]
            index = faiss.read_index(reader, flags)
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
