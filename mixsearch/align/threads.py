"""One BLAS thread for the duration of a fit or a benchmark.

A fit is dozens of D×D SVDs and the benchmarks add small matmuls: too small to gain from BLAS
threads, and spinning threads competing with other jobs made them many times slower on a busy
machine (benchmarks/RESULTS.md). `threadpoolctl` only limits the BLAS libraries already loaded
when the limit is entered, and scipy ships its own OpenBLAS, loaded when `scipy.linalg` is first
imported — which the align code does lazily, so a cold `mixsearch search` does not pay for it.
Entering the limit before that import left every SVD on all cores (an `align fit` on 1,000 pairs
took 45 s of CPU instead of 4), so `scipy.linalg` is imported here first.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any


def one_blas_thread() -> AbstractContextManager[Any]:
    """A context manager limiting numpy's and scipy's BLAS to one thread each."""
    import scipy.linalg  # noqa: F401  # loads scipy's own OpenBLAS, so the limit reaches it
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
