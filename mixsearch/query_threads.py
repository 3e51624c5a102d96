"""How many BLAS / OpenMP / torch threads a query runs on: the policy `search` and `serve` share.

A query is one small forward pass (~10 tokens) and one FAISS search: more threads only add
start-up and synchronisation, and idle OpenBLAS / OpenMP threads spin on a busy machine. On the
2-core test machine one thread measured faster than two, both for a cold ``mixsearch search``
and per request in ``mixsearch serve`` (`benchmarks/cold_search.py`, `benchmarks/serve_load.py`,
RESULTS.md issue 11), so queries default to `QUERY_THREADS`. Setting any of `THREAD_VARIABLES`
yourself chooses another count (then mixsearch leaves them alone).

The libraries read the variables once, when they load, and FAISS's OpenMP keeps the count per
thread: so a default goes into the environment before anything imports numpy
(`preset_environment`), and an explicit count is applied to the calling thread (`apply`; each
server worker thread calls it for itself). The CLI's flag and start-up hook are in
`mixsearch.cli.threads`.
"""

from __future__ import annotations

import os
import sys

QUERY_THREADS = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def user_chose_threads() -> bool:
    return any(os.environ.get(name) for name in THREAD_VARIABLES)


def preset_environment() -> None:
    """Before numpy loads: `QUERY_THREADS` for the libraries unless the user chose a count."""
    if not user_chose_threads():
        _set_variables(QUERY_THREADS)


def apply(threads: int | None) -> None:
    """Use ``threads`` in this thread's BLAS/OpenMP pools and torch's; None leaves them."""
    if threads is None:
        return
    _set_variables(threads)  # for a library that loads later (torch for an image query)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # the loaded ones: numpy's OpenBLAS, FAISS's OpenMP
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def _set_variables(threads: int) -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
