"""SIGKILL a writer at random moments: the store must always reopen at exactly one committed state."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mixsearch.store import Store

HERE = Path(__file__).parent
WRITER = HERE / "kill_writer.py"
DIM, BATCH, N_BATCHES, SEED, KILLS = 32, 40, 100, 7, 20


def _writer_module():
    spec = importlib.util.spec_from_file_location("kill_writer", WRITER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fresh_store(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    # A small checkpoint threshold so kills also land inside checkpoint writes and replays.
    Store.create(path, dim=DIM, index_spec="Flat", checkpoint_rows=200).close()


def _run_and_kill(path: Path, delay: float) -> tuple[int, list[int]]:
    """Start the writer, kill it ``delay`` s after it is ready; (batches at start, acknowledged)."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(N_BATCHES), str(BATCH), str(SEED)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    ready = proc.stdout.readline().split()
    assert ready and ready[0] == "ready", f"writer did not start: {ready}"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read()
    proc.wait()
    return int(ready[1]), [int(x) for x in rest.split()]


def _assert_one_committed_state(path: Path, acknowledged: list[int], writer) -> int:
    with Store.open(path) as store:
        report = store.check_integrity()
        assert report.ok, report.problems
        m, partial = divmod(len(store), BATCH)
        assert partial == 0, f"{len(store)} docs is not a whole number of batches"
        if acknowledged:
            assert m >= acknowledged[-1] + 1, "a commit acknowledged to the writer was lost"
        expected = {f"b{b}-{j}" for b in range(m) for j in range(BATCH)}
        present = {r.doc_id for r in store.records_for(store.all_ids())}
        assert present == expected
        for b in {0, m - 1} if m else set():
            records, vectors = writer.batch(b, BATCH, DIM, SEED)
            scores, ids = store.search(vectors[:3], 1)
            assert [r.doc_id for r in store.records_for(ids[:, 0])] == [
                r.doc_id for r in records[:3]
            ]
            np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    return m


def test_sigkill_leaves_exactly_one_committed_state(tmp_path):
    writer = _writer_module()
    path = tmp_path / "store"
    _fresh_store(path)
    rng = np.random.default_rng(SEED)
    states = set()
    for _ in range(KILLS):
        before, acknowledged = _run_and_kill(path, float(rng.uniform(0.0, 0.25)))
        m = _assert_one_committed_state(path, acknowledged, writer)
        assert m >= before
        states.add(m)
        if m == N_BATCHES:
            _fresh_store(path)
    assert len(states) > KILLS // 2, f"kills landed on too few distinct states: {sorted(states)}"
