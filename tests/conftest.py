"""Test-wide settings: the embedding cache goes to a temporary folder, never the user's home.

The folder is made once per test run, by the first process that imports this file without
``MIXSEARCH_CACHE_DIR`` set: under ``pytest -n N`` that is the controller, whose xdist workers (and
any subprocess a test starts) inherit the variable and share the folder. The process that made it
removes it when pytest finishes (``pytest_unconfigure``, which runs after the workers are done,
also on failures and Ctrl-C; ``atexit`` in case pytest never gets there). A folder given by the
caller in ``MIXSEARCH_CACHE_DIR`` is used as it is and never removed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile

# A suite started in the background by a non-interactive shell (`make test &`) inherits SIGINT as
# ignored, and so would every process the tests start: the Ctrl-C tests could then interrupt
# nothing. A Python handler here is reset to the default in children on exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_CREATED_CACHE: str | None = None
if "MIXSEARCH_CACHE_DIR" not in os.environ:
    _CREATED_CACHE = tempfile.mkdtemp(prefix="mixsearch-test-cache-")
    os.environ["MIXSEARCH_CACHE_DIR"] = _CREATED_CACHE
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _remove_created_cache() -> None:
    if _CREATED_CACHE is not None:
        shutil.rmtree(_CREATED_CACHE, ignore_errors=True)


atexit.register(_remove_created_cache)


def pytest_unconfigure(config) -> None:
    _remove_created_cache()
