"""The files of a store directory, what state a directory is in, and claiming a new one.

A directory is a store once SQLite holds its committed ``meta`` (``format_version`` and the rest,
written in one transaction after every other file of the new store — the alignment among them —
is durable). Before that it is an *interrupted creation*: nothing in it was ever committed, so
`clear_interrupted_creation` may delete it without losing a document. Its files are recognised by
name; a directory holding anything else is never touched.

Creating a store starts by *claiming* the directory: the write lock is taken (non-blocking)
before any document is read or encoded, so a second process creating the same store is told at
once instead of after encoding everything.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import IO, Any

DB_NAME = "store.sqlite"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = "write.lock"
CREATING_NAME = "creating"  # marker: a creation was started here and has not committed yet
ALIGNMENT_DIR = "alignment"  # written by the engine; its fingerprint is in the meta commit
_STORE_FILE = re.compile(
    rf"^({re.escape(DB_NAME)}(-wal|-shm|-journal)?|{re.escape(MANIFEST_NAME)}(\.tmp)?"
    rf"|{LOCK_NAME}|{CREATING_NAME}|index\.\d+\.faiss(\.tmp)?|vectors\.\d+\.f32(\.tmp)?"
    rf"|{ALIGNMENT_DIR})$"
)


class StoreState(enum.Enum):
    ABSENT = "absent"  # no directory, or an empty one
    COMMITTED = "committed"  # a store
    INTERRUPTED = "interrupted"  # store files, nothing committed: a creation that did not finish
    DAMAGED = "damaged"  # a manifest, but no committed document table: not clearable
    FOREIGN = "foreign"  # a non-empty directory that is not a store


def store_state(path: Path) -> StoreState:
    if not path.exists():
        return StoreState.ABSENT
    if not path.is_dir():
        return StoreState.FOREIGN
    names = {p.name for p in path.iterdir()}
    if names <= {LOCK_NAME}:
        return StoreState.ABSENT
    if has_committed_meta(path / DB_NAME):
        return StoreState.COMMITTED
    if not all(_STORE_FILE.match(n) for n in names):
        return StoreState.FOREIGN
    # A manifest is written only after the commit that creates the store: with it but without a
    # committed table, the documents are gone — never cleared as if nothing had been committed.
    if MANIFEST_NAME in names and CREATING_NAME not in names:
        return StoreState.DAMAGED
    return StoreState.INTERRUPTED


def has_committed_meta(db_path: Path) -> bool:
    """Whether SQLite holds a committed store meta (read-only; a damaged file counts as one, so
    that it is reported as damaged rather than cleared)."""
    if not db_path.is_file():
        return False
    uri = f"file:{db_path.resolve()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return True
    try:
        row = conn.execute("SELECT 1 FROM meta WHERE key = 'format_version'").fetchone()
        return row is not None
    except sqlite3.OperationalError as err:
        return "no such table" not in str(err)
    except sqlite3.DatabaseError:
        return True
    finally:
        conn.close()


def interrupted_error(path: Path) -> Exception:
    """The error for a directory holding an unfinished creation: busy, or interrupted."""
    from mixsearch.errors import StoreCorruptError, StoreLockedError

    message = interrupted_message(path)
    return StoreLockedError(message) if lock_is_held(path) else StoreCorruptError(message)


def interrupted_message(path: Path) -> str:
    if lock_is_held(path):
        return (
            f"{path}: another process is creating this store; run again when it has finished "
            "(indexing then adds to the store it made)"
        )
    return (
        f"{path}: a store creation was interrupted here (nothing was committed); run "
        f"`mixsearch verify {path} --repair` to clear it, then index again"
    )


def claim_new_store(path: Path) -> IO[str]:
    """Make the directory and take its write lock, without waiting: the open lock file, held
    until the store's first commit. Refuses a directory another process is writing, one that
    became a store meanwhile, an interrupted creation and a directory that is not a store."""
    from mixsearch.errors import StoreExistsError

    refuse_unless_absent(path, store_state(path))
    path.mkdir(parents=True, exist_ok=True)
    handle = claim_lock(path)
    try:
        state = store_state(path)  # again, under the lock
        if state is StoreState.COMMITTED:
            raise StoreExistsError(
                f"{path}: another process has just created a store here; run again to add to it"
            )
        refuse_unless_absent(path, state)
        (path / CREATING_NAME).write_text(f"pid {os.getpid()}\n")
    except BaseException:
        handle.close()
        raise
    return handle


def lock_is_held(path: Path) -> bool:
    """Whether a live process holds the write lock (a creation in progress, not interrupted)."""
    try:
        handle = open(path / LOCK_NAME)  # noqa: SIM115 (closed below; flock needs no write mode)
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def claim_lock(path: Path) -> IO[str]:
    """The directory's write lock, taken without waiting (the open lock file: closing releases
    it); refused in one line while another process holds it."""
    from mixsearch.errors import StoreLockedError

    handle = open(path / LOCK_NAME, "a+")  # noqa: SIM115 (returned, held by the caller)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreLockedError(
            f"{path}: another process is creating or writing this store; run again when it "
            "has finished (indexing then adds to the store it made)"
        ) from None
    return handle


def refuse_unless_absent(path: Path, state: StoreState) -> None:
    from mixsearch.errors import StoreCorruptError, StoreExistsError

    if state is StoreState.INTERRUPTED:
        raise interrupted_error(path)
    if state is StoreState.DAMAGED:
        raise StoreCorruptError(damaged_message(path))
    if state is StoreState.COMMITTED:
        raise StoreExistsError(f"{path} already holds a store; open it to add documents")
    if state is StoreState.FOREIGN:
        raise StoreExistsError(
            f"{path}: refusing to create a store here: it exists and is not an empty directory"
        )


def damaged_message(path: Path) -> str:
    return (
        f"{path}: cannot read its document table {DB_NAME} (missing, or without the store's "
        "tables) though its manifest shows a committed store; the documents cannot be "
        "recovered from the other files: restore the store from a backup"
    )


def clear_interrupted_creation(path: Path) -> list[str]:
    """Delete the files of a creation that never committed; the names deleted. The caller holds
    the write lock and has checked the state is `StoreState.INTERRUPTED`."""
    removed = []
    for entry in sorted(path.iterdir()):
        if entry.name == LOCK_NAME or not _STORE_FILE.match(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry.name)
    return removed


def stale_files(path: Path, meta: dict[str, Any], index_file: Path | None) -> list[Path]:
    """Index and vector files (and their temp files) that the committed ``meta`` does not name:
    left by an uncommitted or superseded generation, deleted by the next writer."""
    keep = {meta["vector_file"], index_file.name if index_file is not None else None}
    found = [*path.glob("index.*.faiss*"), *path.glob("vectors.*.f32*")]
    return sorted(f for f in found if f.name not in keep)
