"""Every open checks that the index file is the committed one: a foreign, byte-flipped or
truncated checkpoint is refused in one line naming `mixsearch verify --repair`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mixsearch.documents import DocRecord, Modality
from mixsearch.store import Store, StoreError
from mixsearch.store.store import StoreDamagedError

DIM, N = 16, 200


def _docs(n: int, seed: int) -> tuple[list[DocRecord], np.ndarray]:
    vectors = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [DocRecord(f"d{i}", Modality.TEXT, f"doc {i}", None, {}, f"h{i}") for i in range(n)]
    return records, vectors


def _store(path: Path, seed: int, spec: str = "HNSW16") -> Path:
    # HNSW: a Flat index keeps no checkpoint (it is filled from the vector file at open)
    with Store.create(path, dim=DIM, index_spec=spec) as store:
        store.add(*_docs(N, seed))
    return path


def _index_file(path: Path) -> Path:
    (found,) = path.glob("index.*.faiss")
    return found


def _refused(path: Path, word: str, readonly: bool = False) -> str:
    with pytest.raises(StoreDamagedError) as caught:
        Store.open(path, readonly=readonly)
    message = str(caught.value)
    assert "\n" not in message
    assert f"mixsearch verify {path} --repair" in message
    assert word in message, message
    return message


@pytest.mark.parametrize("spec", ["IVF4,Flat", "HNSW16"])
def test_a_foreign_index_file_with_the_same_shape_is_refused(tmp_path: Path, spec: str) -> None:
    mine, theirs = _store(tmp_path / "mine", 1, spec), _store(tmp_path / "theirs", 2, spec)
    # same dimension, same vector count, same generation: only the checksum tells them apart
    assert _index_file(mine).name == _index_file(theirs).name
    shutil.copyfile(_index_file(theirs), _index_file(mine))
    _refused(mine, "checksum")
    _refused(mine, "checksum", readonly=True)


def test_flipped_bytes_are_refused(tmp_path: Path) -> None:
    path = _store(tmp_path / "s", 1)
    index = _index_file(path)
    data = bytearray(index.read_bytes())
    middle = len(data) // 2  # inside the graph's neighbour lists: FAISS itself would read it
    data[middle : middle + 4] = b"\x7f\x7f\x7f\x7f"
    index.write_bytes(bytes(data))
    _refused(path, "checksum")


def test_a_truncated_index_file_is_refused(tmp_path: Path) -> None:
    path = _store(tmp_path / "s", 1)
    index = _index_file(path)
    index.write_bytes(index.read_bytes()[:100])
    _refused(path, "bytes")


def test_a_missing_index_file_is_refused(tmp_path: Path) -> None:
    path = _store(tmp_path / "s", 1)
    _index_file(path).unlink()
    _refused(path, "missing")


def test_a_sound_store_opens_and_finds_its_vectors(tmp_path: Path) -> None:
    path = _store(tmp_path / "s", 1)
    records, vectors = _docs(N, 1)
    with Store.open(path, readonly=True) as store:
        _, ids = store.search(vectors[:5], 1)
        assert [r.doc_id for r in store.records(ids[:, 0])] == [r.doc_id for r in records[:5]]


# ---- read paths never write ------------------------------------------------------------------


def _snapshot(path: Path) -> dict[str, tuple[int, bytes]]:
    return {
        f.name: (f.stat().st_mtime_ns, f.read_bytes())
        for f in sorted(path.iterdir())
        if f.is_file() and not f.name.endswith(("-shm", "-wal"))
    }


def test_reading_changes_no_file(tmp_path: Path) -> None:
    path = _store(tmp_path / "s", 1)
    before = _snapshot(path)
    with Store.open(path, readonly=True) as store:
        store.search(_docs(3, 1)[1], 2)
        store.check_integrity()
        assert len(store) == N
    assert _snapshot(path) == before


def test_a_store_opened_read_only_refuses_writes(tmp_path: Path) -> None:
    path = _store(tmp_path / "s", 1)
    with Store.open(path, readonly=True) as store, pytest.raises(StoreError, match="read-only"):
        store.remove(["d1"])
