"""A write that runs out of space fails in one line and leaves the last committed state.

"Out of space" is real, not simulated: the writer runs in a process whose file-size limit
(RLIMIT_FSIZE, with SIGXFSZ ignored) makes the kernel refuse writes past it with EFBIG, as a full
disk refuses them with ENOSPC — first in the SQLite write-ahead log, then, with a larger batch,
in the FAISS checkpoint file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mixsearch.engine import Engine
from mixsearch.verify import verify

DIM = 64
WRITER = """
import resource, signal, sys
import numpy as np
from mixsearch.engine import Engine
from mixsearch.errors import MixsearchError
path, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
vectors = np.random.default_rng(1).normal(size=(n, 64)).astype(np.float32)
try:
    with Engine.open(path) as engine:
        engine.add_vectors([f"x{i}" for i in range(n)], vectors, np.zeros(n, np.int64))
except MixsearchError as err:
    print(err)
    sys.exit(2)
"""


@pytest.mark.parametrize(("n", "limit"), [(5_000, 400_000), (12_000, 3_000_000)])
def test_running_out_of_space_is_one_line(tmp_path: Path, n: int, limit: int) -> None:
    path = tmp_path / "s"
    first = np.eye(3, DIM, dtype=np.float32)
    with Engine.create(path, encoder=None, dim=DIM, index="Flat") as engine:
        engine.add_vectors(["a", "b", "c"], first, np.zeros(3, np.int64))
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(path), str(n), str(limit)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert done.returncode == 2, done.stderr
    line = done.stdout.strip()
    assert "\n" not in line and "could not write" in line and "last committed state" in line
    report = verify(path)
    assert report.ok, report.problems
    with Engine.open(path, readonly=True) as engine:
        assert len(engine.store) == 3
        assert engine.search_vectors(first[1], 1)[0][0].doc_id == "b"
