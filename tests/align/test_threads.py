"""`one_blas_thread` limits scipy's own OpenBLAS too, even when scipy.linalg was not imported yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# A fresh interpreter, so scipy.linalg (and its BLAS) is not loaded before the limit is entered —
# the situation of `mixsearch align fit`, whose SVD code imports scipy.linalg lazily.
PROBE = """
import json, sys
import numpy
assert "scipy.linalg" not in sys.modules
from mixsearch.align.threads import one_blas_thread
with one_blas_thread():
    import scipy.linalg
    from threadpoolctl import threadpool_info
    blas = [(i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps(blas))
"""


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def test_every_blas_library_runs_one_thread_inside_the_limit():
    # BLAS at its default thread count (2+ on any multi-core machine), as a user's shell has it
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["OPENBLAS_NUM_THREADS"] = "2"
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env
    )
    blas = json.loads(done.stdout)
    assert any("scipy" in path for path, _ in blas), blas  # scipy's BLAS was loaded and seen
    assert all(threads == 1 for _, threads in blas), blas
