"""Named write moments where the kill tests stop a real process, to prove every one of them
leaves a committed state or one that is refused and repaired on the next open.

``MIXSEARCH_CRASH_AT=NAME`` makes the process send itself ``MIXSEARCH_CRASH_SIGNAL`` (``KILL``
by default, ``INT``: Ctrl-C, or ``STOP``: paused until SIGCONT) when it reaches the moment
``NAME``. Unset (always, outside the tests), a crash point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV_AT = "MIXSEARCH_CRASH_AT"
ENV_SIGNAL = "MIXSEARCH_CRASH_SIGNAL"

# The moments, in the order a first index reaches them.
CREATION_POINTS = (
    "claimed",  # directory made, write lock held, creation marker written
    "alignment-saved",  # alignment folder durable, nothing in SQLite yet
    "schema-created",  # tables exist, no committed meta
    "store-committed",  # meta committed, creation marker and manifest not yet cleaned/written
)
COMMIT_POINTS = (
    "vectors-appended",  # vector rows durable past the committed length, SQLite not yet run
    "index-written",  # checkpoint file durable, the SQLite transaction naming it not run
    "rows-committed",  # SQLite committed, manifest and stale files not yet updated
)

MIGRATE_POINTS = (
    "migrate-files-written",  # vector file and checkpoint durable, the format-1 meta untouched
    "migrate-committed",  # format 2 committed, VACUUM and the old checkpoint's deletion not run
)


# Read moments where the race tests pause a reader (``MIXSEARCH_CRASH_SIGNAL=STOP``: the test
# changes the store, then sends SIGCONT).
READ_POINTS = (
    "load-meta-read",  # a load read the committed meta, its files not yet opened
)

SIGNALS = {"KILL": signal.SIGKILL, "INT": signal.SIGINT, "STOP": signal.SIGSTOP}


def crash_point(name: str) -> None:
    if os.environ.get(ENV_AT) != name:
        return
    os.kill(os.getpid(), SIGNALS[os.environ.get(ENV_SIGNAL, "KILL")])
