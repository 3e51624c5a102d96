"""`mixsearch search` as a separate process, as a shell runs it: it chooses its own BLAS/OpenMP
thread count (a user's own setting wins) and stops quietly when its reader goes away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mixsearch.cli.threads import QUERY_THREADS, THREAD_VARIABLES


@pytest.fixture(scope="module")
def text_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mixsearch.documents import Document
    from mixsearch.engine import Engine

    store = tmp_path_factory.mktemp("texts") / "store"
    notes = ["a dog on the beach", "a cup of coffee", "the moon at night", "an old clock"]
    with Engine.create(store) as engine:
        engine.add([Document(f"note-{i}", text=text) for i, text in enumerate(notes)])
    return store


def _environment(**thread_variables: str) -> dict[str, str]:
    """This process's environment without the thread variables the test run sets, plus these."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    return env | thread_variables


def _threads_after_search(store: Path, env: dict[str, str], *flags: str) -> dict[str, int]:
    """The search's thread counts per library kind (openblas, openmp), read in its process."""
    script = (
        "import json, sys\n"
        "from mixsearch.cli.main import main\n"
        f"status = main(['search', {str(store)!r}, 'a dog', '-k', '1', '--json', *{flags!r}])\n"
        "from threadpoolctl import threadpool_info\n"
        "counts = {i['internal_api']: i['num_threads'] for i in threadpool_info()}\n"
        "print(json.dumps({'status': status, **counts}), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report.pop("status") == 0
    return report


def test_search_uses_one_thread_unless_told_otherwise(text_store: Path) -> None:
    chosen = _threads_after_search(text_store, _environment())
    assert chosen["openblas"] == QUERY_THREADS and chosen["openmp"] == QUERY_THREADS
    users = _threads_after_search(text_store, _environment(OMP_NUM_THREADS="2"))
    assert users["openmp"] == 2  # the user's variable is kept
    flag = _threads_after_search(text_store, _environment(), "--threads", "2")
    assert flag["openblas"] == 2 and flag["openmp"] == 2


def test_a_closed_pipe_ends_the_search_quietly(text_store: Path) -> None:
    """`mixsearch search STORE "q" | head -1`: the reader is gone before the output is written
    (made certain here by closing the pipe's read end first): no traceback, status 141 as for a
    tool ended by SIGPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mixsearch", "search", str(text_store), "a dog", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=_environment(),
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stderr == ""
    assert done.returncode == 141


def test_head_sees_the_first_line(text_store: Path) -> None:
    cmd = f"{sys.executable} -m mixsearch search {text_store} 'a dog' -k 4 | head -1"
    done = subprocess.run(
        ["bash", "-c", cmd], capture_output=True, text=True, env=_environment(), check=True
    )
    assert done.stdout == "query: a dog\n"
    assert done.stderr == ""


@pytest.mark.parametrize("module", ["mixsearch", "mixsearch.cli"])
def test_both_module_entry_points_run_the_cli(module: str) -> None:
    from mixsearch import __version__

    done = subprocess.run(
        [sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and __version__ in done.stdout
