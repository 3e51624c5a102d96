"""`db.CommitWatch`: a commit by any connection is seen; no commit, no change."""

from __future__ import annotations

import sqlite3

from mixsearch.store import db


def _database(tmp_path) -> tuple[sqlite3.Connection, str]:
    path = str(tmp_path / "w.sqlite")
    conn = db.connect(tmp_path / "w.sqlite")
    conn.execute("CREATE TABLE t (x INTEGER)")
    return conn, path


def test_no_commit_leaves_the_watch_unchanged(tmp_path) -> None:
    conn, _ = _database(tmp_path)
    watch = db.CommitWatch(conn)
    watch.mark()
    conn.execute("SELECT count(*) FROM t").fetchone()  # reads change nothing
    assert watch.unchanged()
    watch.close()
    conn.close()


def test_a_commit_by_another_connection_is_seen(tmp_path) -> None:
    reader, path = _database(tmp_path)
    watch = db.CommitWatch(reader)
    writer = sqlite3.connect(path, isolation_level=None)
    for value in range(3):  # every commit, not only the first
        watch.mark()
        writer.execute("INSERT INTO t VALUES (?)", (value,))
        assert not watch.unchanged()
    writer.close()
    watch.close()
    reader.close()


def test_an_unmarked_or_closed_watch_answers_maybe(tmp_path) -> None:
    conn, _ = _database(tmp_path)
    watch = db.CommitWatch(conn)
    assert not watch.unchanged()  # nothing marked yet
    watch.mark()
    watch.close()
    assert not watch.unchanged()
    conn.close()


def test_a_database_without_a_wal_index_answers_maybe(tmp_path) -> None:
    path = tmp_path / "plain.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)  # rollback journal: no -shm file
    conn.execute("CREATE TABLE t (x INTEGER)")
    watch = db.CommitWatch(conn)
    watch.mark()
    assert not watch.unchanged()
    conn.close()
