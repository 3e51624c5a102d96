"""Vectors stored once (format 2): the vector file beside the index, what it costs on disk, and
what happens when a writer dies mid-commit, a file is damaged, or the store is compacted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from mixsearch.cli.main import main
from mixsearch.documents import DocRecord, Modality
from mixsearch.store import Store
from mixsearch.store.crashpoints import ENV_AT
from mixsearch.store.index_file import idmap2_header
from mixsearch.store.store import StoreDamagedError

HERE = Path(__file__).parent
DIM = 16


def _docs(start: int, stop: int, dim: int = DIM, seed: int = 0) -> tuple[list, np.ndarray]:
    vectors = np.random.default_rng([seed, start]).normal(size=(stop - start, dim))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    records = [DocRecord(f"d{i}", Modality.TEXT, None, None, {}, "") for i in range(start, stop)]
    return records, vectors


def _store(path: Path, spec: str, n: int = 300) -> np.ndarray:
    records, vectors = _docs(0, n)
    with Store.create(path, dim=DIM, index_spec=spec) as store:
        store.add(records[: n // 2], vectors[: n // 2])
        store.add(records[n // 2 :], vectors[n // 2 :])
    return vectors


def _vector_file(path: Path) -> Path:
    (found,) = path.glob("vectors.*.f32")
    return found


def test_graph_only_header_is_the_one_faiss_writes() -> None:
    index = faiss.IndexIDMap2(faiss.index_factory(DIM, "HNSW8", faiss.METRIC_INNER_PRODUCT))
    index.add_with_ids(_docs(0, 50)[1], np.arange(50, dtype=np.int64) * 2)
    header = idmap2_header(index)
    assert faiss.serialize_index(index).tobytes()[: len(header)] == header


@pytest.mark.parametrize("spec", ["Flat", "HNSW32"])
def test_disk_is_within_1_3_of_raw_faiss(tmp_path: Path, spec: str) -> None:
    # 20k x 64 with minimal document rows (no text, empty metadata): what the store adds to the
    # vectors is the SQLite rows, the vector file replaces the index's own copy
    n, dim = 20_000, 64
    records, vectors = _docs(0, n, dim)
    path = tmp_path / spec
    with Store.create(path, dim=dim, index_spec=spec) as store:
        store.add(records, vectors)
        raw = len(faiss.serialize_index(store.index))
    on_disk = sum(f.stat().st_size for f in path.iterdir())
    assert on_disk <= 1.3 * raw, (on_disk, raw, sorted(p.name for p in path.iterdir()))
    if spec == "Flat":
        assert not list(path.glob("index.*.faiss"))  # filled from the vector file at open
    with Store.open(path, readonly=True) as store:
        _, ids = store.search(vectors[:20], 1, params={"efSearch": 64})
        assert ids[:, 0].tolist() == list(range(20))


@pytest.mark.parametrize("spec", ["Flat", "HNSW16"])
def test_a_writer_killed_after_appending_vectors_leaves_the_committed_state(
    tmp_path: Path, spec: str
) -> None:
    path = tmp_path / "s"
    Store.create(path, dim=32, index_spec=spec).close()
    writer = HERE / "kill_writer.py"
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1]), "OMP_NUM_THREADS": "1"}
    # batch 0 commits; batch 1 is killed after its rows are durable, before its SQLite commit
    done = subprocess.run([sys.executable, str(writer), str(path), "1", "40", "3"], env=env)
    assert done.returncode == 0
    killed = subprocess.run(
        [sys.executable, str(writer), str(path), "2", "40", "3"],
        env={**env, ENV_AT: "vectors-appended"},
        capture_output=True,
    )
    assert killed.returncode == -signal.SIGKILL
    vector_file = _vector_file(path)
    assert vector_file.stat().st_size == 80 * 32 * 4  # the uncommitted rows are there ...
    with Store.open(path, readonly=True) as store:  # ... and never read
        assert len(store) == 40 and store.check_integrity().ok
    with Store.open(path) as store:  # the next writer cuts them off
        assert vector_file.stat().st_size == 40 * 32 * 4
        records, vectors = _docs(100, 140, 32)
        store.add(records, vectors)
        assert store.check_integrity().ok
        _, ids = store.search(vectors[:5], 1, params={"efSearch": 64})
        assert [r.doc_id for r in store.records(ids[:, 0])] == [r.doc_id for r in records[:5]]


def test_a_damaged_vector_file_names_the_documents(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s"
    _store(path, "Flat")
    vector_file = _vector_file(path)
    data = bytearray(vector_file.read_bytes())
    data[200 * DIM * 4 + 5] ^= 0xFF  # a byte of d200, in the second commit's segment
    vector_file.write_bytes(bytes(data))
    with pytest.raises(StoreDamagedError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert "150 document(s)" in message and "d150" in message and "backup" in message
    capsys.readouterr()
    assert main(["verify", str(path), "--repair", "--json"]) == 1
    out = capsys.readouterr().out
    assert "d150" in out and "not repairable" in out


@pytest.mark.parametrize("damage", ["unlink", "flip"])
def test_a_damaged_hnsw_checkpoint_is_rebuilt_from_the_vector_file(
    tmp_path: Path, capsys, damage: str
) -> None:
    path = tmp_path / "s"
    vectors = _store(path, "HNSW16")
    (checkpoint,) = path.glob("index.*.faiss")
    if damage == "unlink":
        checkpoint.unlink()
    else:
        data = bytearray(checkpoint.read_bytes())
        data[len(data) // 2] ^= 0xFF
        checkpoint.write_bytes(bytes(data))
    with pytest.raises(StoreDamagedError):
        Store.open(path, readonly=True)
    capsys.readouterr()
    assert main(["verify", str(path), "--repair"]) == 0
    assert "rebuilt the index" in capsys.readouterr().out
    with Store.open(path, readonly=True) as store:
        assert store.check_integrity().ok
        _, ids = store.search(vectors, 1, params={"efSearch": 128})
        assert (ids[:, 0] == np.arange(len(vectors))).mean() > 0.99


@pytest.mark.parametrize("spec", ["Flat", "HNSW16", "IVF4,Flat"])
def test_compact_writes_a_vector_file_without_removed_rows(tmp_path: Path, spec: str) -> None:
    path = tmp_path / "s"
    vectors = _store(path, spec)
    params = {"efSearch": 300, "nprobe": 4}
    with Store.open(path) as store:
        store.remove([f"d{i}" for i in range(0, 300, 2)])
        before = store.search(vectors[1::2], 5, params=params)
        old = _vector_file(path)
        store.compact()
        new = _vector_file(path)
        assert new != old and not old.exists()
        assert store.check_integrity().ok
        after = store.search(vectors[1::2], 5, params=params)
        np.testing.assert_array_equal(after[1][:, 0], before[1][:, 0])
        np.testing.assert_array_equal(store.vectors_for([1, 3]), vectors[[1, 3]])
    rows = np.fromfile(new, np.float32).reshape(-1, DIM)
    assert len(rows) == 300 and not rows[0::2].any()  # holes where removed rows were
    np.testing.assert_array_equal(rows[1::2], vectors[1::2])


def test_a_reader_reads_vectors_another_process_committed(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _store(path, "Flat", n=100)
    with Store.open(path, readonly=True) as reader:
        records, vectors = _docs(100, 120)
        with Store.open(path) as writer:
            writer.add(records, vectors)
        fids = reader.faiss_ids(["d110"])
        np.testing.assert_array_equal(reader.vectors_for([fids["d110"]]), vectors[10:11])


@pytest.mark.parametrize(("damage", "word"), [("unlink", "missing"), ("truncate", "rows")])
def test_a_missing_or_short_vector_file_is_refused(tmp_path: Path, damage: str, word: str) -> None:
    path = tmp_path / "s"
    _store(path, "IVF4,Flat")
    vector_file = _vector_file(path)
    if damage == "unlink":
        vector_file.unlink()
    else:
        vector_file.write_bytes(vector_file.read_bytes()[: 100 * DIM * 4])
    for readonly in (False, True):
        with pytest.raises(StoreDamagedError, match=word) as caught:
            Store.open(path, readonly=readonly)
        assert "\n" not in str(caught.value) and "backup" in str(caught.value)
