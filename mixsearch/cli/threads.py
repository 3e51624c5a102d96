"""The CLI side of the query thread policy (`mixsearch.query_threads`): ``search`` and ``serve``
preset one thread before numpy loads, and take ``--threads N``. Other commands (``index``
encodes in bulk, where threads pay) keep the libraries' defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

from mixsearch.errors import BadInputError
from mixsearch.query_threads import QUERY_THREADS, THREAD_VARIABLES, apply, preset_environment

__all__ = [
    "QUERY_THREADS",
    "THREAD_VARIABLES",
    "add_threads_flag",
    "apply",
    "preset_for_command",
    "query_threads",
]

QUERY_COMMANDS = ("search", "serve")


def preset_for_command(argv: Sequence[str]) -> None:
    """Before numpy loads: one thread for a query command unless the user chose a count."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command in QUERY_COMMANDS:
        preset_environment()


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
