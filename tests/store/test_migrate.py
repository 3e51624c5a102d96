"""`mixsearch store migrate`: format-1 stores (vectors as SQLite BLOBs and in the checkpoint)
are refused with the command to run, and answer exactly as before once converted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from mixsearch.cli.main import main
from mixsearch.errors import StoreVersionError
from mixsearch.store import Store, db
from mixsearch.store import index_spec as spec_mod
from mixsearch.store import migrate as migrate_mod
from mixsearch.store.crashpoints import ENV_AT, MIGRATE_POINTS

FIXTURES = Path(__file__).parent.parent / "fixtures" / "stores" / "format1"


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "format1"
    shutil.copytree(FIXTURES, copy)
    return copy


@pytest.mark.parametrize("name", ["flat", "hnsw", "ivf"])
def test_a_format_1_store_is_refused_then_migrated_with_the_same_hits(
    tmp_path: Path, name: str, capsys
) -> None:
    root = _copy(tmp_path)
    path = root / name
    expected = json.loads((root / "expected.json").read_text())
    for readonly in (False, True):
        with pytest.raises(StoreVersionError, match=f"mixsearch store migrate {path}"):
            Store.open(path, readonly=readonly)
    assert main(["store", "migrate", str(path)]) == 0
    assert "migrated" in capsys.readouterr().out
    with Store.open(path, readonly=True) as store:
        assert store.manifest["format_version"] == 2 and store.check_integrity().ok
        scores, ids = store.search(
            np.asarray(expected["queries"], np.float32), 10, params=expected["params"]
        )
    want = expected["stores"][name]
    np.testing.assert_array_equal(ids, want["ids"])
    np.testing.assert_allclose(scores, want["scores"], atol=1e-6)
    tables = {
        r[0]
        for r in sqlite3.connect(path / "store.sqlite").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert "vectors" not in tables and "vector_segments" in tables
    assert len(list(path.glob("index.*.faiss"))) == (0 if name == "flat" else 1)
    assert main(["store", "migrate", str(path)]) == 0  # again: nothing to do
    assert "nothing to do" in capsys.readouterr().out


def test_a_migrated_store_takes_writes(tmp_path: Path) -> None:
    path = _copy(tmp_path) / "hnsw"
    assert main(["store", "migrate", str(path)]) == 0
    with Store.open(path) as store:
        vectors = np.eye(16, dtype=np.float32)[:2]
        from mixsearch.documents import DocRecord, Modality

        store.add(
            [DocRecord(f"new{i}", Modality.TEXT, None, None, {}, "") for i in range(2)], vectors
        )
        store.remove(["d5"])
        store.compact()
        assert store.check_integrity().ok and len(store) == 400 - 2 + 2 - 1


@pytest.mark.parametrize("point", MIGRATE_POINTS)
def test_a_migration_killed_midway_leaves_one_format_and_can_be_rerun(
    tmp_path: Path, point: str
) -> None:
    root = _copy(tmp_path)
    path = root / "hnsw"
    repo = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1", ENV_AT: point}
    killed = subprocess.run(
        [sys.executable, "-m", "mixsearch", "store", "migrate", str(path)], env=env
    )
    assert killed.returncode == -signal.SIGKILL
    if point == "migrate-files-written":  # still the format-1 store: refused, naming migrate
        with pytest.raises(StoreVersionError, match="mixsearch store migrate"):
            Store.open(path, readonly=True)
    assert main(["store", "migrate", str(path)]) == 0  # finishes, or finds nothing to do
    expected = json.loads((root / "expected.json").read_text())
    with Store.open(path) as store:
        assert store.check_integrity().ok
        _, ids = store.search(
            np.asarray(expected["queries"], np.float32), 10, params=expected["params"]
        )
    np.testing.assert_array_equal(ids, expected["stores"]["hnsw"]["ids"])
    assert sorted(p.name for p in path.glob("*.f32")) == ["vectors.5.f32"]
    assert len(list(path.glob("index.*.faiss"))) == 1
    conn = sqlite3.connect(path / "store.sqlite")
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0  # the BLOBs' space returned


def test_removed_ids_still_in_the_hnsw_graph_keep_their_vectors_and_the_hits(
    tmp_path: Path,
) -> None:
    # the format-1 graph still holds removed documents (masked): migrated, the graph must get
    # their vectors back too, or searches route through zero vectors
    path = _copy(tmp_path) / "hnsw"
    conn = sqlite3.connect(path / "store.sqlite")
    legacy = migrate_mod._legacy_index(path, conn, db.read_meta(conn))
    dead = np.fromiter((r[0] for r in conn.execute("SELECT faiss_id FROM dead")), np.int64)
    conn.close()
    graph_ids = spec_mod.index_ids(legacy)
    assert len(np.intersect1d(graph_ids, dead)) > 0  # the fixture has such ids
    queries = np.random.default_rng(0).normal(size=(200, legacy.d)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    params = faiss.SearchParametersHNSW(
        efSearch=16, sel=faiss.IDSelectorNot(faiss.IDSelectorBatch(dead))
    )
    before_scores, before_ids = legacy.search(queries, 10, params=params)
    assert main(["store", "migrate", str(path)]) == 0
    with Store.open(path, readonly=True) as store:
        assert store.index is not None
        for fid in graph_ids:
            np.testing.assert_array_equal(
                store.index.reconstruct(int(fid)), legacy.reconstruct(int(fid))
            )
        scores, ids = store.search(queries, 10, params={"efSearch": 16})
    np.testing.assert_array_equal(ids, before_ids)
    np.testing.assert_allclose(scores, before_scores, atol=1e-6)
