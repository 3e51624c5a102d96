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
import pytest

from mixsearch.store import Store

HERE = Path(__file__).parent
WRITER = HERE / "kill_writer.py"
DIM, BATCH, N_BATCHES, SEED, KILLS = 32, 40, 100, 7, 20
# Each writer run is asked for AHEAD more batches than the store holds: about 3 s of adding on an
# idle machine, far beyond the longest kill delay, so every kill lands while it is still adding
# (asserted). The store starts afresh once it holds N_BATCHES or more, so kills keep landing at
# every store size, checkpoint and replay position from empty to a few thousand rows.
AHEAD, MAX_DELAY = 1000, 0.25


def _writer_module():
    spec = importlib.util.spec_from_file_location("kill_writer", WRITER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fresh_store(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    # A small checkpoint threshold so kills also land inside checkpoint writes and replays.
    Store.create(path, dim=DIM, index_spec="Flat", checkpoint_rows=200).close()


def _start_and_kill(
    argv: list[str], delay: float, env: dict[str, str]
) -> tuple[list[str], list[int], int]:
    """Run the writer with ``argv``, SIGKILL it ``delay`` s after its first acknowledged commit;
    (its "ready" line split, the numbers it acknowledged, its exit status). Timing from the first
    commit rather than from "ready" keeps kills from all landing before it when the machine is
    busy (the first commit after opening can take longer than most delays)."""
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), *argv],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE.parents[1]), **env},
    )
    ready = proc.stdout.readline().split()
    assert ready and ready[0] == "ready", f"writer did not start: {ready}"
    first = proc.stdout.readline()
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read()
    return ready, [int(x) for x in (first + rest).split()], proc.wait()


def _run_and_kill(path: Path, delay: float, n_batches: int) -> tuple[int, list[int]]:
    """Start the writer on ``n_batches`` batches in all, kill it ``delay`` s after its first
    commit; (batches at start, acknowledged). Fails unless the kill caught it still adding."""
    argv = [str(path), str(n_batches), str(BATCH), str(SEED)]
    ready, acknowledged, status = _start_and_kill(argv, delay, {})
    before = int(ready[1])
    assert acknowledged, "writer committed nothing (crashed?)"
    assert acknowledged == list(range(before, acknowledged[-1] + 1))
    # still adding when killed: it had not acknowledged its last batch, nor exited on its own
    assert acknowledged[-1] < n_batches - 1 and status == -signal.SIGKILL, (
        f"kill after {delay:.3f} s missed the adds: acknowledged up to batch {acknowledged[-1]} "
        f"of {n_batches}, exit status {status}"
    )
    return before, acknowledged


def _assert_one_committed_state(path: Path, acknowledged: list[int], writer) -> int:
    with Store.open(path) as store:
        report = store.check_integrity()
        assert report.ok, report.problems
        m, partial = divmod(len(store), BATCH)
        assert partial == 0, f"{len(store)} docs is not a whole number of batches"
        if acknowledged:
            assert m >= acknowledged[-1] + 1, "a commit acknowledged to the writer was lost"
        expected = {f"b{b}-{j}" for b in range(m) for j in range(BATCH)}
        present = {r.doc_id for r in store.records(store.all_ids())}
        assert present == expected
        for b in {0, m - 1} if m else set():
            records, vectors = writer.batch(b, BATCH, DIM, SEED)
            scores, ids = store.search(vectors[:3], 1)
            assert [r.doc_id for r in store.records(ids[:, 0])] == [r.doc_id for r in records[:3]]
            np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    return m


def test_sigkill_leaves_exactly_one_committed_state(tmp_path):
    writer = _writer_module()
    path = tmp_path / "store"
    _fresh_store(path)
    rng = np.random.default_rng(SEED)
    states = set()
    m = 0
    for _ in range(KILLS):
        delay = float(rng.uniform(0.0, MAX_DELAY))
        before, acknowledged = _run_and_kill(path, delay, n_batches=m + AHEAD)
        assert before == m
        m = _assert_one_committed_state(path, acknowledged, writer)
        assert m >= before
        states.add(m)
        if m >= N_BATCHES:
            _fresh_store(path)
            m = 0
    assert len(states) > KILLS // 2, f"kills landed on too few distinct states: {sorted(states)}"


# ---- remove / upsert / compact ---------------------------------------------------------------

OP_DIM, OP_KILLS, OP_SEED = 16, 8, 11
# (mode, index spec of the seeded store, documents, chunk per step, steps, max kill delay in s).
# The delay must exceed the slowest step (an HNSW32 rebuild) so every kill can make progress.
OP_CASES = [
    ("remove", "Flat", 1500, 10, 150, 0.25),
    ("remove", "HNSW32", 1500, 10, 150, 0.25),
    ("upsert", "Flat", 500, 10, 10_000, 0.25),
    ("upsert", "HNSW32", 500, 10, 10_000, 0.25),
    ("compact", "Flat", 800, 10, 150, 0.6),
]
EXACT_SEARCH = {"efSearch": 1024}  # HNSW visits (about) every node; ignored by Flat


def _run_and_kill_op(
    path: Path, mode: str, n_docs: int, chunk: int, steps: int, delay: float
) -> tuple[int, list[int]]:
    """Start the writer in ``mode``, kill it ``delay`` s after its first commit; (step at start,
    steps acknowledged)."""
    # One FAISS thread: the CI machine has 2 cores shared by 2 pytest workers, and oversubscribed
    # OpenMP spins would stretch an HNSW rebuild past every kill delay.
    argv = [str(path), str(steps), str(chunk), str(OP_SEED), mode, str(n_docs)]
    ready, acknowledged, status = _start_and_kill(argv, delay, {"OMP_NUM_THREADS": "1"})
    # killed, or done with every step (and maybe killed in its closing checkpoint)
    done = acknowledged[-1:] == [steps]
    assert status in ((0, -signal.SIGKILL) if done else (-signal.SIGKILL,)), "writer failed"
    return int(ready[1]), acknowledged


def _check_search(store: Store, writer, n_docs: int, present, absent) -> None:
    """Vectors of present documents find themselves; vectors not in the committed state (removed,
    replaced, or written by a step that did not commit) find nothing identical."""
    for (i, version), should_find in [(p, True) for p in present] + [(a, False) for a in absent]:
        _, vector = writer.docs([i], [version], n_docs, OP_DIM, OP_SEED)
        scores, ids = store.search(vector, 1, params=EXACT_SEARCH)
        if ids[0, 0] == -1:  # nothing left to find
            assert not should_find, f"doc {i} v{version} is not searchable"
            continue
        (hit,) = store.records(ids[0])  # unknown (removed) FAISS ids raise here
        if should_find:
            assert (hit.doc_id, hit.metadata["v"]) == (writer.doc_id(i), version)
            assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)
        else:
            assert scores[0, 0] < 0.999, f"doc {i} v{version} is still searchable as {hit}"


def _assert_op_state(path: Path, writer, mode: str, n_docs: int, chunk: int, window) -> int:
    """The reopened store passes the integrity check and holds exactly the state of one step in
    ``window`` (the last acknowledged step, or the one in flight when the writer was killed)."""
    with Store.open(path) as store:
        report = store.check_integrity()
        assert report.ok, report.problems
        t = writer.committed_step(store, mode, n_docs, chunk)
        assert t in window, f"store holds step {t}; the writer was killed within steps {window}"

        gone = writer.removed_ids(writer.removals_at(mode, t), n_docs, chunk, OP_SEED)
        if mode == "upsert":
            versions = writer.expected_versions(t, n_docs, chunk, OP_SEED)
        else:
            versions = np.zeros(n_docs, dtype=np.int64)
        live = np.setdiff1d(np.arange(n_docs), gone)
        want_records, want_vectors = writer.docs(live, versions[live], n_docs, OP_DIM, OP_SEED)

        fids = store.faiss_ids([r.doc_id for r in want_records])
        assert len(store) == len(fids) == len(live), "documents missing or left over"
        got = store.records([fids[r.doc_id] for r in want_records])
        assert got == want_records
        ids = np.array([fids[r.doc_id] for r in want_records], dtype=np.int64)
        np.testing.assert_array_equal(store.vectors_for(ids), want_vectors)
        indexed = np.array([store.index.reconstruct(int(i)) for i in ids]).reshape(-1, OP_DIM)
        np.testing.assert_allclose(indexed, want_vectors, atol=1e-6)

        if mode == "upsert":
            # step t's vectors are searchable, the ones it replaced and step t + 1's (maybe the
            # one killed in flight) are not
            latest = writer.upsert_chunk(t, n_docs, chunk, OP_SEED)[:3] if t else range(3)
            before = writer.expected_versions(t - 1, n_docs, chunk, OP_SEED) if t else versions
            present = [(int(i), t) for i in latest]
            absent = [(int(i), int(before[i])) for i in latest if t]
            uncommitted = writer.upsert_chunk(t + 1, n_docs, chunk, OP_SEED)[:3]
            absent += [(int(i), t + 1) for i in uncommitted]
        else:
            # the chunk the next step removes (maybe the one killed in flight) is still there
            upcoming = writer.removal_order(n_docs, OP_SEED)[len(gone) : len(gone) + 3]
            present = [(int(i), 0) for i in upcoming]
            absent = [(int(i), 0) for i in gone[-3:]]
        _check_search(store, writer, n_docs, present, absent)

        if mode == "compact":
            spec = writer.compact_specs(t // 2)[1]  # t // 2 compacts have committed
            manifest = store.manifest
            assert manifest["index_spec"] == manifest["index_spec_resolved"] == spec
            assert store.traits.hnsw == spec.startswith("HNSW")
            if t and t % 2 == 0:  # a compact committed last: no dead ids, no replay
                assert manifest["counts"]["masked_dead"] == 0
                assert manifest["index_generation"] == manifest["generation"]
    return t


@pytest.mark.parametrize(
    ("mode", "spec", "n_docs", "chunk", "steps", "max_delay"),
    OP_CASES,
    ids=[f"{c[0]}-{c[1]}" for c in OP_CASES],
)
def test_sigkill_during_op_leaves_exactly_one_committed_state(
    tmp_path, mode, spec, n_docs, chunk, steps, max_delay
):
    writer = _writer_module()
    path = tmp_path / "store"

    def fresh() -> None:
        shutil.rmtree(path, ignore_errors=True)
        # Small checkpoint threshold: kills also land inside checkpoint writes and replays.
        writer.seed_store(
            path, mode, n_docs=n_docs, dim=OP_DIM, seed=OP_SEED, spec=spec, checkpoint_rows=50
        )

    fresh()
    rng = np.random.default_rng([OP_SEED, n_docs])
    states = set()
    for _ in range(OP_KILLS):
        start, acknowledged = _run_and_kill_op(
            path, mode, n_docs, chunk, steps, float(rng.uniform(0.0, max_delay))
        )
        last = acknowledged[-1] if acknowledged else start
        assert acknowledged == list(range(start + 1, last + 1))
        t = _assert_op_state(path, writer, mode, n_docs, chunk, window=(last, last + 1))
        states.add(t)
        if t == steps:
            fresh()
    assert len(states) > OP_KILLS // 2, f"kills landed on too few distinct states: {sorted(states)}"
