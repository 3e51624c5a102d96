"""Reading the vector file (format 2) while it changes: removed documents, readers racing a
compact, long-lived readers, checksum checks of a moving store, and what a closed store keeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mixsearch.errors import StoreInputError
from mixsearch.store import Store, db
from mixsearch.store.committed_vectors import StaleVectorsError
from mixsearch.store.crashpoints import ENV_AT, ENV_SIGNAL
from mixsearch.store.damage import VectorsDamagedError
from mixsearch.store.vector_file import VectorMap

from .test_vector_file import DIM, _docs

ROOT = Path(__file__).parents[2]


def _store(path: Path, spec: str, n: int = 200) -> np.ndarray:
    records, vectors = _docs(0, n)
    with Store.create(path, dim=DIM, index_spec=spec) as store:
        store.add(records, vectors)
    return vectors


@pytest.fixture
def hnsw(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """An HNSW store of 200 documents and their vectors."""
    path = tmp_path / "s"
    return path, _store(path, "HNSW16")


@pytest.mark.parametrize("spec", ["Flat", "HNSW16"])
def test_vectors_for_refuses_removed_documents_before_and_after_compact(
    tmp_path: Path, spec: str
) -> None:
    path = tmp_path / "s"
    vectors = _store(path, spec)
    with Store.open(path) as store:
        removed = store.faiss_ids(["d7"])["d7"]
        store.remove(["d7"])
        with pytest.raises(StoreInputError, match=f"unknown FAISS id.*{removed}"):
            store.vectors_for([3, removed])
        store.compact()
        with pytest.raises(StoreInputError, match=f"unknown FAISS id.*{removed}"):
            store.vectors_for([removed])
        with pytest.raises(StoreInputError, match="unknown FAISS id.*999"):
            store.vectors_for([999])
        np.testing.assert_array_equal(store.vectors_for([8, 3]), vectors[[8, 3]])
        with pytest.raises(StoreInputError, match="FAISS ids must be integers"):
            store.vectors_for(["d8"])


def test_a_reader_refuses_documents_another_process_removed_since_its_load(
    hnsw: tuple[Path, np.ndarray],
) -> None:
    path, vectors = hnsw
    with Store.open(path, readonly=True) as reader:
        for _ in range(20):  # enough checks for the reader to keep its own id bitmap
            np.testing.assert_array_equal(reader.vectors_for([5, 6]), vectors[[5, 6]])
        with Store.open(path) as writer:
            writer.remove(["d5"])
        for _ in range(3):  # the first check after the commit, and the ones after it
            with pytest.raises(StoreInputError, match="unknown FAISS id.*5"):
                reader.vectors_for([6, 5])
        np.testing.assert_array_equal(reader.vectors_for([6]), vectors[[6]])


def test_a_reader_racing_a_compact_loads_the_new_vector_file(tmp_path: Path) -> None:
    # the reader pauses after reading the meta that names vectors.<gen>.f32; a compact then
    # replaces that file and deletes it: the reader must take a newer snapshot, not report the
    # vectors lost
    path = tmp_path / "s"
    vectors = _store(path, "Flat")
    with Store.open(path) as writer:
        writer.remove(["d1"])
    script = (
        "import sys; from mixsearch.store import Store\n"
        "with Store.open(sys.argv[1], readonly=True) as s:\n"
        "    print(s.generation, s.vectors_for([5]).tolist())\n"
    )
    env = {**os.environ, ENV_AT: "load-meta-read", ENV_SIGNAL: "STOP", "PYTHONPATH": str(ROOT)}
    reader = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        _wait_stopped(reader.pid)
        with Store.open(path) as writer:
            old_file = writer._commits.vectors.file(writer._commits.meta)
            writer.compact()
            generation = writer.generation
        assert not old_file.exists()
        out = _continue_until_exit(reader)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, out
    gen, row = out.split(" ", 1)
    assert int(gen) == generation
    np.testing.assert_allclose(np.asarray(eval(row), np.float32)[0], vectors[5], atol=1e-6)


def _wait_stopped(pid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.02)
    raise AssertionError("the reader never reached its pause")


def _continue_until_exit(proc: subprocess.Popen) -> str:
    # it pauses again at each retry's meta read: let it go on until it ends
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.05)
    assert proc.stdout is not None
    return proc.stdout.read()


def test_a_long_lived_reader_does_not_map_a_file_compacted_after_its_load(
    hnsw: tuple[Path, np.ndarray],
) -> None:
    path, vectors = hnsw
    with Store.open(path, readonly=True) as reader:
        loaded_file = reader._commits.vectors.current.path  # type: ignore[union-attr]
        with Store.open(path) as writer:
            writer.remove(["d2"])
            writer.compact()
            compacted = writer.generation
            writer.add(*_docs(200, 210))
        assert not loaded_file.exists()  # compact deleted it: the reader still maps it
        np.testing.assert_array_equal(reader.vectors_for([4]), vectors[[4]])
        with pytest.raises(StaleVectorsError) as caught:
            reader.vectors_for([205])
        assert str(caught.value) == (
            f"{path}: this reader loaded vector file {loaded_file.name}; another process has "
            "since compacted the store, replacing it by the vector file of generation "
            f"{compacted} (vectors.{compacted}.f32), which holds the documents added since: "
            "open the store again to read them"
        )
        assert reader._commits.vectors.current.path == loaded_file  # type: ignore[union-attr]
    with Store.open(path, readonly=True) as reopened:
        np.testing.assert_array_equal(reopened.vectors_for([205]), _docs(200, 210)[1][[5]])


@pytest.mark.parametrize(
    ("damage", "known"),
    [
        (
            "delete",
            "its vector file vectors.0.f32 is missing: deleted or moved since this "
            "reader loaded it, and not by a compaction (the commits still name it)",
        ),
        ("cut", "its vector file vectors.0.f32 holds 200 rows, its commits recorded 210"),
    ],
)
def test_a_long_lived_reader_names_a_missing_or_short_vector_file_as_such(
    hnsw: tuple[Path, np.ndarray], damage: str, known: str
) -> None:
    path, _ = hnsw
    with Store.open(path, readonly=True) as reader:
        with Store.open(path) as writer:
            writer.add(*_docs(200, 210))
        file = path / "vectors.0.f32"
        if damage == "delete":
            file.unlink()
        else:
            os.truncate(file, 200 * DIM * 4)  # the rows of the second commit are gone
        with pytest.raises(VectorsDamagedError) as caught:
            reader.vectors_for([205])
    message = str(caught.value)
    assert message.startswith(f"{path}: {known}; `mixsearch verify {path}` reports the damaged ")
    assert "compact" not in message.replace("not by a compaction", "")
    assert "store opens again once the file is restored" in message and "\n" not in message


def test_checksums_of_rows_committed_after_a_map_are_not_read_as_damage(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _store(path, "Flat", n=50)
    with Store.open(path) as store:
        old = store._commits.vectors.current
        assert old is not None
        store.add(*_docs(50, 80))  # a second segment, past the old map's 50 rows
        segments = db.read_segments(store._conn)
    assert len(segments) == 2
    stale = VectorMap(old.path, DIM, old.rows)
    assert stale.damaged_segments(segments) == []
    with pytest.raises(IndexError, match="past the 50 mapped"):
        stale._digest(50, 30)


def test_a_store_check_during_commits_reports_no_damage(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _store(path, "Flat", n=50)
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )
    try:
        with Store.open(path, readonly=True) as reader:
            checks = 0
            while writer.poll() is None or checks == 0:
                report = reader.check_integrity()
                assert report.ok, report.problems
                checks += 1
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0


def test_a_store_check_is_consistent_when_a_writer_commits_after_every_load(
    tmp_path: Path, monkeypatch
) -> None:
    """The interleaving the test above meets only by chance, forced: another handle commits
    right after each load the reader makes, inside the check. The check must still pair one
    loaded state with the rows of that same state (before, five such commits in a row left the
    check reading rows newer than the loaded index: "manifest count 215 != 220 table rows")."""
    from mixsearch.store.commits import Commits

    path = tmp_path / "s"
    _store(path, "Flat", n=50)
    batches = iter(range(20))
    with Store.open(path) as writer, Store.open(path, readonly=True) as reader:

        def commit_after(load):
            def load_then_commit(self, *args, **kwargs):
                load(self, *args, **kwargs)
                batch = next(batches, None)
                if self is reader._commits and batch is not None:
                    writer.add(*_docs(100 + 5 * batch, 105 + 5 * batch))

            return load_then_commit

        writer.add(*_docs(50, 55))  # the reader is behind: the check loads first
        for name in ("load", "load_in_snapshot"):
            if hasattr(Commits, name):
                monkeypatch.setattr(Commits, name, commit_after(getattr(Commits, name)))
        report = reader.check_integrity()
        assert report.ok, report.problems
        assert next(batches, None) is not None  # the writer did commit during the check


_WRITER = """
import sys
import numpy as np
from mixsearch.documents import DocRecord, Modality
from mixsearch.store import Store
with Store.open(sys.argv[1]) as store:
    for batch in range(40):
        ids = range(50 + batch * 5, 55 + batch * 5)
        vectors = np.random.default_rng(batch).normal(size=(5, 16)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.add([DocRecord(f"d{i}", Modality.TEXT, None, None, {}, "") for i in ids], vectors)
"""


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("readonly", [False, True])
def test_closing_a_store_releases_its_vector_map(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "s"
    _store(path, "Flat")
    before = _open_fds()
    kept = []  # the closed stores stay referenced: nothing is left to the garbage collector
    for _ in range(10):
        store = Store.open(path, readonly=readonly)
        store.vectors_for([1])
        store.close()
        kept.append(store)
    assert _open_fds() <= before + 1, os.listdir("/proc/self/fd")
    maps = Path("/proc/self/maps").read_text()
    assert "vectors.0.f32" not in maps


def test_the_first_commit_syncs_the_directory_of_a_vector_file_left_by_a_killed_writer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s"
    Store.create(path, dim=DIM, index_spec="Flat").close()
    (path / "vectors.0.f32").write_bytes(b"\0" * 64)  # a first writer killed after appending
    script = (
        "import sys, numpy as np\n"
        "from mixsearch.documents import DocRecord, Modality\n"
        "from mixsearch.store import Store\n"
        "with Store.open(sys.argv[1]) as s:\n"
        "    v = np.eye(16, dtype=np.float32)[:2]\n"
        "    s.add([DocRecord(f'n{i}', Modality.TEXT, None, None, {}, '') for i in range(2)], v)\n"
    )
    trace = tmp_path / "trace"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=openat,fsync", "-o", str(trace), sys.executable]
        + ["-c", script, str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    synced = _fsynced_paths(trace.read_text())
    appended = synced.index(str(path / "vectors.0.f32"))
    # the directory entry is durable before the SQLite commit that relies on it (SQLite syncs
    # the directory itself only when it creates its WAL, which says nothing about this file)
    assert synced[appended + 1 : appended + 2] == [str(path)], synced


def _fsynced_paths(trace: str) -> list[str]:
    """Paths fsynced by the traced process, in order (strace -e openat,fsync)."""
    opened: dict[str, str] = {}
    synced = []
    for line in trace.splitlines():
        if "openat(" in line and "= " in line and '"' in line:
            fd = line.rsplit("= ", 1)[1].split()[0]
            opened[fd] = line.split('"', 2)[1]
        elif "fsync(" in line:
            fd = line.split("fsync(", 1)[1].split(")", 1)[0]
            synced.append(opened.get(fd, "?"))
    return synced
