"""SIGKILL `mixsearch embed --ray local` once shards start appearing: the rerun skips every shard
the killed run finished (none is re-encoded: each keeps the run id it was written by), encodes
the rest, and the store built from the shards equals an uninterrupted build."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from shard_corpora import write_photo_corpus

pytest.importorskip("ray", reason="the `ray` extra (make test installs it)")
pytestmark = pytest.mark.slow

SHARD_SIZE = 2
FIRST_SHARD_TIMEOUT = 600  # seconds: Ray start-up and two encoder actors on a busy machine


def _embed_command(corpus: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mixsearch",
        "embed",
        str(corpus),
        "--out",
        str(out),
        "--shard-size",
        str(SHARD_SIZE),
        "--ray",
        "local",
        "--workers",
        "2",
        "--no-cache",
        "--no-progress",
        "--json",
    ]


def _finished(out: Path) -> dict[str, str]:
    """Shard file → the run id it was written by."""
    import pyarrow.parquet as pq

    return {
        p.name: json.loads(pq.read_schema(p).metadata[b"mixsearch"])["run_id"]
        for p in sorted(out.glob("shard-*.parquet"))
    }


def _kill_session(session: int) -> None:
    """SIGKILL every process left in the session the killed command led (its Ray processes)."""
    listing = subprocess.run(["ps", "-eo", "pid=,sid="], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        pid, sid = (int(x) for x in line.split())
        if sid == session:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _kill_at_first_shard(command: list[str], out: Path) -> None:
    proc = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + FIRST_SHARD_TIMEOUT
        while not any(out.glob("shard-*.parquet")):
            assert proc.poll() is None, "embed ended before writing a shard"
            assert time.monotonic() < deadline, "no shard appeared"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        _kill_session(proc.pid)


def test_sigkill_mid_run_then_rerun_finishes_without_reencoding(tmp_path: Path) -> None:
    corpus = tmp_path / "photos"
    write_photo_corpus(corpus, paired=12, notes=4)  # 20 documents: 10 shards of 2
    out = tmp_path / "shards"
    command = _embed_command(corpus, out)

    _kill_at_first_shard(command, out)
    before = _finished(out)
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=900)
    report = json.loads(rerun.stdout)
    after = _finished(out)

    assert 0 < len(before) < 10, before  # killed mid-run
    assert rerun.returncode == 1  # the two broken files: per-item errors, not a failed job
    assert sorted(report["skipped"]) == sorted(before)
    assert sorted(report["encoded"]) == sorted(set(after) - set(before))
    assert len(after) == 10
    assert {name: after[name] for name in before} == before  # none re-encoded
    assert set(after.values()) - set(before.values()) == {report["run_id"]}
    assert not list(out.glob(".*.tmp"))
    assert sorted(Path(e["item"]).name for e in report["errors"]) == ["corrupt.png", "zero.jpg"]

    from mixsearch import Engine
    from mixsearch.shards import embed

    uninterrupted = embed(corpus, tmp_path / "reference", shard_size=SHARD_SIZE, cache=False)
    resumed_store, reference_store = tmp_path / "resumed", tmp_path / "reference-store"
    with Engine.create(resumed_store) as engine:
        engine.add_shards(out)
    with Engine.create(reference_store) as engine:
        engine.add_shards(uninterrupted.out)
    with Engine.open(resumed_store) as a, Engine.open(reference_store) as b:
        assert len(a.store) == len(b.store) == 18
        for query in ("a cat", "an astronaut", "a note about rockets"):
            hits_a, hits_b = a.search(query, k=10), b.search(query, k=10)
            assert [h.doc_id for h in hits_a] == [h.doc_id for h in hits_b]
            np.testing.assert_allclose(
                [h.score for h in hits_a], [h.score for h in hits_b], atol=1e-5
            )
