"""`mixsearch verify STORE [--repair] [--json]` finds each kind of damage in one line per problem
and `--repair` makes the store usable again without losing a committed document."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mixsearch.cli.main import main
from mixsearch.engine import Engine
from mixsearch.store.layout import claim_new_store

DIM, N = 16, 150
INDEX_WITH_CHECKPOINT = "HNSW16"  # a Flat index has no checkpoint: it is filled from the vectors


def _store(path: Path, seed: int = 0, index: str = "Flat") -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(N, DIM)).astype(np.float32)
    with Engine.create(path, encoder=None, dim=DIM, index=index) as engine:
        engine.add_vectors([f"d{i}" for i in range(N)], vectors, np.zeros(N, np.int64))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _verify(path: Path, capsys, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    status = main(["verify", str(path), "--json", *extra])
    return status, json.loads(capsys.readouterr().out)


def _verify_text(path: Path, capsys, *extra: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = main(["verify", str(path), *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return status, out.out.strip().splitlines()


def _finds_every_document(path: Path, vectors: np.ndarray) -> None:
    with Engine.open(path, readonly=True) as engine:
        assert len(engine.store) == N
        hits = engine.search_vectors(vectors[[0, 77, N - 1]], 1)
        assert [h[0].doc_id for h in hits] == ["d0", "d77", f"d{N - 1}"]


def test_a_sound_store_exits_0(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s"
    _store(path)
    status, lines = _verify_text(path, capsys)
    assert status == 0 and lines == [f"{path}: sound ({N} documents)"]


def _flip(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[:200])


def _foreign(file: Path) -> None:
    other = file.parents[1] / "other"
    _store(other, seed=9, index=INDEX_WITH_CHECKPOINT)
    (theirs,) = other.glob("index.*.faiss")
    shutil.copyfile(theirs, file)


@pytest.mark.parametrize("damage", [_flip, _truncate, _foreign, Path.unlink])
def test_a_damaged_index_is_found_and_rebuilt(tmp_path: Path, capsys, damage) -> None:
    path = tmp_path / "s"
    vectors = _store(path, index=INDEX_WITH_CHECKPOINT)
    (index,) = path.glob("index.*.faiss")
    damage(index)

    capsys.readouterr()
    assert main(["search", str(path), "a query"]) == 2  # refused, not wrong hits
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"mixsearch verify {path} --repair" in err

    status, lines = _verify_text(path, capsys)
    assert status == 1 and len(lines) == 1 and "index" in lines[0], lines
    status, report = _verify(path, capsys, "--repair")
    assert status == 0 and report["ok"], report
    assert any("rebuilt the index" in r for r in report["repaired"])
    _finds_every_document(path, vectors)


def test_a_deleted_manifest_is_reported_and_rewritten(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s"
    vectors = _store(path)
    (path / "manifest.json").unlink()
    _finds_every_document(path, vectors)  # SQLite is the truth: the store still opens
    status, lines = _verify_text(path, capsys)
    assert status == 1 and lines == [f"{path}: manifest.json is missing (--repair rewrites it)"]
    status, report = _verify(path, capsys, "--repair")
    assert status == 0 and report["repaired"] == ["rewrote manifest.json from the committed state"]
    assert json.loads((path / "manifest.json").read_text())["counts"]["documents"] == N


def test_an_interrupted_creation_is_refused_then_cleared(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s"
    claim_new_store(path).close()  # what a creator killed right after claiming leaves
    (path / "alignment").mkdir()
    (path / "alignment" / "Q.npz").write_bytes(b"half")

    capsys.readouterr()
    assert main(["info", str(path)]) == 2
    assert f"mixsearch verify {path} --repair" in capsys.readouterr().err
    status, lines = _verify_text(path, capsys)
    assert status == 1 and "interrupted" in lines[0]
    status, report = _verify(path, capsys, "--repair")
    assert report["repaired"] and "cleared the interrupted creation" in report["repaired"][0]
    assert sorted(p.name for p in path.iterdir()) == ["write.lock"]
    _store(path)  # and a store can be created there now


def test_a_second_creator_is_told_at_once(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s"
    held = claim_new_store(path)  # a creator at work (encoding)
    try:
        with pytest.raises(Exception, match="another process is creating"):
            _store(path)
        status, lines = _verify_text(path, capsys, "--repair")
        assert status == 1 and "another process is creating" in lines[-1]
        assert (path / "creating").exists()  # --repair left a live creation alone
    finally:
        held.close()


def test_a_folder_that_is_not_a_store(tmp_path: Path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    status, lines = _verify_text(tmp_path, capsys, "--repair")
    assert status == 1 and "not a mixsearch store" in lines[-1]
    assert (tmp_path / "notes.txt").exists()
