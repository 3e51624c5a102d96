"""A store nobody may write answers `info`, searches and verification, and refuses writers in
one line.

The condition is real, not simulated: the store is `chmod -R a-w`, and the probe runs as a user
that permissions bind. Tests here run as root, which ignores permission bits, so as root the probe
drops to `nobody` with `setpriv`; as any other user it runs as that user. Where neither is
possible the test is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mixsearch.engine import Engine

DIM, N = 16, 120
REPO = Path(__file__).parents[2]

PROBE = """
import json, sys
import numpy as np
from mixsearch.engine import Engine
from mixsearch.errors import MixsearchError
path = sys.argv[1]
out = {}
with Engine.open(path, readonly=True) as engine:
    query = np.asarray(json.loads(sys.argv[2]), dtype=np.float32)
    hits = engine.search_vectors(query, 3)[0]
    out["top"] = hits[0].doc_id
    out["report_ok"] = engine.store.check_integrity().ok
try:
    Engine.open(path)
    out["writer"] = "opened"
except MixsearchError as err:
    out["writer"] = str(err)
print(json.dumps(out))
"""


def _unprivileged_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a read-only condition")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def readonly_store() -> Iterator[tuple[Path, np.ndarray]]:
    # Under /tmp, not pytest's tmp_path: that one is private to root, so `nobody` could not reach it.
    parent = Path(tempfile.mkdtemp(prefix="mixsearch-ro-"))
    parent.chmod(0o755)
    path = parent / "store"
    vectors = np.random.default_rng(3).normal(size=(N, DIM)).astype(np.float32)
    with Engine.create(path, encoder=None, dim=DIM, index="Flat") as engine:
        engine.add_vectors([f"d{i}" for i in range(N)], vectors, np.zeros(N, np.int64))
    subprocess.run(["chmod", "-R", "a-w", str(path)], check=True)
    try:
        yield path, vectors
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(parent)], check=True)
        shutil.rmtree(parent)


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": "/nonexistent"}
    return subprocess.run(
        _unprivileged_prefix() + argv, capture_output=True, text=True, env=env, timeout=300
    )


def test_read_only_store_is_searched_and_writers_are_refused(readonly_store) -> None:
    path, vectors = readonly_store
    before = sorted(f.name for f in path.iterdir())
    done = _run([sys.executable, "-c", PROBE, str(path), json.dumps(vectors[7].tolist())])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["top"] == "d7" and out["report_ok"]
    assert "read-only" in out["writer"] and "\n" not in out["writer"]
    assert sorted(f.name for f in path.iterdir()) == before  # nothing created either


def test_info_on_a_read_only_store(readonly_store) -> None:
    path, _ = readonly_store
    done = _run([sys.executable, "-m", "mixsearch.cli.main", "info", str(path), "--json"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["documents"] == N


def test_verify_on_a_read_only_store(readonly_store) -> None:
    path, _ = readonly_store
    done = _run([sys.executable, "-m", "mixsearch.cli.main", "verify", str(path), "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"]


def test_index_into_a_read_only_store_is_refused_in_one_line(readonly_store, tmp_path) -> None:
    path, _ = readonly_store
    corpus = Path(tempfile.mkdtemp(prefix="mixsearch-ro-corpus-"))
    try:
        corpus.chmod(0o755)
        (corpus / "a.txt").write_text("a note")
        (corpus / "a.txt").chmod(0o644)
        argv = [sys.executable, "-m", "mixsearch.cli.main", "index", str(corpus), "--into"]
        done = _run([*argv, str(path)])
    finally:
        shutil.rmtree(corpus)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "read-only" in done.stderr, done.stderr
