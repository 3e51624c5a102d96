"""The first index of a new store, stopped at each of its write moments (SIGKILL, or Ctrl-C):
the next run either finds a committed store — with its alignment — and completes it, or refuses
the half-made one in one line naming `mixsearch verify --repair`, after which it completes. The
finished store always equals an uninterrupted build."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mixsearch.engine import Engine
from mixsearch.store.crashpoints import COMMIT_POINTS, CREATION_POINTS, ENV_AT, ENV_SIGNAL
from mixsearch.store.layout import StoreState, store_state

HERE = Path(__file__).parent
WRITER = HERE / "kill_writer.py"
N_DOCS, DIM, SEED = 120, 16, 5


def _writer():
    spec = importlib.util.spec_from_file_location("kill_writer", WRITER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(WRITER), "create", str(path), str(N_DOCS), str(DIM), str(SEED)]
    full_env = {**os.environ, "PYTHONPATH": str(HERE.parents[1]), "OMP_NUM_THREADS": "1"}
    return subprocess.run(argv, capture_output=True, text=True, env={**full_env, **(env or {})})


def _repair(path: Path) -> None:
    from mixsearch.cli.main import main

    assert main(["verify", str(path), "--repair"]) in (0, 1)


def _assert_complete(path: Path, writer) -> None:
    expected = writer.creation_alignment(DIM, SEED)
    with Engine.open(path, readonly=True) as engine:
        assert engine.store.check_integrity().ok
        assert engine.alignment is not None
        assert engine.alignment.fingerprint == expected.fingerprint
        extra = engine.store.manifest["extra"]
        assert extra["alignment_fingerprint"] == expected.fingerprint
        records, vectors = writer.docs(range(N_DOCS), [0] * N_DOCS, N_DOCS, DIM, SEED)
        fids = engine.store.faiss_ids([r.doc_id for r in records])
        assert len(engine.store) == len(fids) == N_DOCS
        stored = engine.store.vectors_for([fids[r.doc_id] for r in records])
        np.testing.assert_allclose(stored, vectors, atol=1e-6)
        _, ids = engine.store.search(vectors[:5], 1)
        assert list(ids[:, 0]) == [fids[r.doc_id] for r in records[:5]]


@pytest.mark.parametrize("sig", ["KILL", "INT"])
@pytest.mark.parametrize("point", CREATION_POINTS + COMMIT_POINTS)
def test_first_index_stopped_at_each_write_moment(tmp_path: Path, point: str, sig: str) -> None:
    writer = _writer()
    path = tmp_path / "store"
    stopped = _run(path, {ENV_AT: point, ENV_SIGNAL: sig})
    if sig == "KILL":
        assert stopped.returncode == -signal.SIGKILL, stopped.stderr
    else:
        assert stopped.returncode != 0 and "KeyboardInterrupt" in stopped.stderr
    state = store_state(path)
    assert state in (StoreState.ABSENT, StoreState.COMMITTED, StoreState.INTERRUPTED)
    if state is StoreState.COMMITTED:
        # a committed store carries its alignment from the first commit on
        with Engine.open(path, readonly=True) as engine:
            assert engine.alignment is not None
    rerun = _run(path)
    if state is StoreState.INTERRUPTED:
        assert rerun.returncode == 3, rerun.stderr
        line = rerun.stdout.strip()
        assert "\n" not in line and f"mixsearch verify {path} --repair" in line, line
        _repair(path)
        assert store_state(path) is StoreState.ABSENT
        rerun = _run(path)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    _assert_complete(path, writer)


def test_ctrl_c_before_the_commit_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store"
    stopped = _run(path, {ENV_AT: "alignment-saved", ENV_SIGNAL: "INT"})
    assert stopped.returncode != 0
    assert store_state(path) is StoreState.ABSENT
