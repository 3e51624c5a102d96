"""How many BLAS / OpenMP / torch threads a query runs on.

A query is one small forward pass (~10 tokens) and one FAISS search: more threads only add
start-up and synchronisation, and idle OpenBLAS / OpenMP threads spin on a busy machine. On the
2-core test machine one thread measured faster than two, both for a cold ``mixsearch search``
and per request in ``mixsearch serve`` (`benchmarks/cold_search.py`, `benchmarks/serve_load.py`,
RESULTS.md issue 11), so `search` and `serve` default to `QUERY_THREADS`. ``--threads N`` sets
another count; so does setting any of `THREAD_VARIABLES` yourself (then mixsearch leaves them
alone). Other commands (``index`` encodes in bulk, where threads pay) keep the libraries'
defaults.

The libraries read the variables once, when they load, and FAISS's OpenMP keeps the count per
thread: so the default is put in the environment before anything imports numpy, and an explicit
count is applied to the calling thread (each server worker thread calls `apply` for itself).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from mixsearch.errors import BadInputError

QUERY_THREADS = 1
QUERY_COMMANDS = ("search", "serve")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def user_chose_threads() -> bool:
    return any(os.environ.get(name) for name in THREAD_VARIABLES)


def preset_for_command(argv: Sequence[str]) -> None:
    """Before numpy loads: one thread for a query command unless the user chose a count."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command in QUERY_COMMANDS and not user_chose_threads():
        _set_variables(QUERY_THREADS)


def add_threads_flag(parser: object) -> None:
    parser.add_argument(  # type: ignore[attr-defined]
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help=f"BLAS/OpenMP/torch threads per query (default {QUERY_THREADS}, measured fastest "
        f"here; {THREAD_VARIABLES[0]} set in the environment is kept)",
    )


def query_threads(flag: int | None) -> int | None:
    """The count to apply: ``--threads``, else None (the environment's, preset or the user's)."""
    if flag is not None and flag < 1:
        raise BadInputError(f"--threads must be at least 1, got {flag}")
    return flag


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
