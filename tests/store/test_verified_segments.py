"""A reader that picks up another process's commit hashes only the vector-file segments committed
since it last verified the file; a new open, a compacted file or a file replaced under the same
name is hashed whole (`mixsearch/store/verified_segments.py`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mixsearch.documents import DocRecord, Modality
from mixsearch.engine import Engine
from mixsearch.serve.live import LiveStore
from mixsearch.store import Store
from mixsearch.store.store import StoreDamagedError

DIM = 16


def _docs(start: int, stop: int) -> tuple[list[DocRecord], np.ndarray]:
    vectors = np.random.default_rng(start).normal(size=(stop - start, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    records = [DocRecord(f"d{i}", Modality.TEXT, None, None, {}, "") for i in range(start, stop)]
    return records, vectors


def _flat_store(path: Path) -> None:
    """300 documents in two commits: segments of rows 0-149 and 150-299."""
    with Store.create(path, dim=DIM, index_spec="Flat") as store:
        store.add(*_docs(0, 150))
        store.add(*_docs(150, 300))


def _commit_elsewhere(path: Path, start: int, stop: int) -> None:
    with Store.open(path) as writer:  # its own connection and map, as another process has
        writer.add(*_docs(start, stop))


def _vector_file(path: Path) -> Path:
    (found,) = path.glob("vectors.*.f32")
    return found


def _flip_in_place(file: Path, row: int) -> None:
    """Damage one byte of ``row`` in the same file (same inode, as bit rot would)."""
    with open(file, "r+b") as handle:
        handle.seek(row * DIM * 4 + 5)
        byte = handle.read(1)[0]
        handle.seek(row * DIM * 4 + 5)
        handle.write(bytes([byte ^ 0xFF]))


def test_a_reader_picking_up_a_commit_hashes_only_the_segments_committed_since(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s"
    _flat_store(path)
    with Store.open(path, readonly=True) as reader:  # hashes both segments
        _commit_elsewhere(path, 300, 320)
        # damage in a segment the reader has verified: a reload no longer reads it through the
        # checksum (committed segments are immutable), so only the new segment is hashed
        _flip_in_place(_vector_file(path), 10)
        with reader.snapshot() as snapshot:
            assert snapshot.meta["count"] == 320
        with Store.open(path, readonly=True, replacing=reader) as follower:
            assert len(follower) == 320
    with pytest.raises(StoreDamagedError, match="d0"):  # a new open hashes every segment
        Store.open(path, readonly=True)


def test_a_segment_committed_since_is_hashed(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _flat_store(path)
    with Store.open(path, readonly=True) as reader:
        _commit_elsewhere(path, 300, 320)
        _flip_in_place(_vector_file(path), 310)
        with pytest.raises(StoreDamagedError, match="d300"), reader.snapshot():
            pass
        with pytest.raises(StoreDamagedError, match="d300"):
            Store.open(path, readonly=True, replacing=reader)


@pytest.mark.parametrize("how", ["compacted", "replaced by a copy"])
def test_another_file_is_hashed_whole(tmp_path: Path, how: str) -> None:
    path = tmp_path / "s"
    _flat_store(path)
    with Store.open(path, readonly=True) as reader:
        if how == "compacted":
            with Store.open(path) as writer:
                writer.compact()  # vectors.<new gen>.f32: new rows, same checksums
        else:
            _commit_elsewhere(path, 300, 320)
            copy = tmp_path / "copy.f32"
            shutil.copyfile(_vector_file(path), copy)
            os.replace(copy, _vector_file(path))  # same name, another inode
        _flip_in_place(_vector_file(path), 10)
        with pytest.raises(StoreDamagedError, match="d0"), reader.snapshot():
            pass


def test_the_server_reopens_hashing_only_what_was_committed_since(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with Engine.create(path, encoder=None, dim=DIM, index="Flat", alignment=None) as engine:
        _, vectors = _docs(0, 300)
        engine.add_vectors([f"d{i}" for i in range(300)], vectors, np.zeros(300, np.int64))
    live = LiveStore(path, device="cpu", readonly=True)
    try:
        _commit_elsewhere(path, 300, 320)
        _flip_in_place(_vector_file(path), 10)  # verified at the server's open
        with live.snapshot() as current:
            assert len(current.store) == 320 and live.reopened == 1
    finally:
        live.close()
    with pytest.raises(StoreDamagedError, match="d0"):
        Engine.open(path, readonly=True)
