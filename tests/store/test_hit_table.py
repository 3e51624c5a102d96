"""The in-memory hit table: the same hits as the SQLite lookup, current across commits."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.documents import DocRecord, Modality
from mixsearch.hit import Hit
from mixsearch.rank import rank
from mixsearch.store import Store, hit_table
from mixsearch.store import db as store_db
from mixsearch.store.hit_table import TEXT_PREFIX_CHARS

DIM = 16


def _records(start: int, stop: int) -> list[DocRecord]:
    texts = [None, "short", "é" * 300, "emoji 🙂 " * 40, ""]
    return [
        DocRecord(
            doc_id=f"doc-{i}-ü",
            modality=Modality(i % 3),
            text=texts[i % len(texts)],
            image_path=None if i % 2 else f"img/{i}.jpg",
            metadata={} if i % 4 else {"year": 2000 + i, "name": "ñ"},
            content_hash=f"h{i}",
        )
        for i in range(start, stop)
    ]


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _hits(store: Store, queries: np.ndarray) -> list[list[tuple]]:
    return [
        [(h.doc_id, h.score, h.modality, h.text, h.image_path, h.metadata, h.rank) for h in row]
        for row in rank(store, queries, 10)
    ]


def _store(tmp_path, n: int = 60) -> Store:
    store = Store.create(tmp_path / "s", dim=DIM, index_spec="Flat")
    store.add(_records(0, n), _vectors(n))
    return store


def test_table_rows_equal_the_sqlite_rows(tmp_path) -> None:
    with _store(tmp_path) as store:
        store.warm()
        table = store.hit_table
        assert table is not None and len(table) == 60 and table.nbytes > 0
        ids = [*range(-1, 62), 5]
        from_sqlite = store_db.hit_rows(store._conn, ids)  # the reference lookup
        trimmed = {
            i: (d, m, None if t is None else t[:TEXT_PREFIX_CHARS], p, j)
            for i, (d, m, t, p, j) in from_sqlite.items()
        }
        assert table.rows(ids) == trimmed
        assert set(trimmed) == set(range(60))


def test_hits_are_the_same_with_and_without_the_table(tmp_path) -> None:
    queries = _vectors(8, seed=1)
    with _store(tmp_path) as store:
        cold = _hits(store, queries)
        assert store.hit_table is None  # one search does not pay for loading it
        store.warm()
        assert _hits(store, queries) == cold
        assert any(len(h[3] or "") == 200 and h[3].endswith("…") for row in cold for h in row)


def test_own_commits_replace_the_table(tmp_path) -> None:
    queries = _vectors(4, seed=2)
    with _store(tmp_path) as store:
        store.warm()
        store.add(_records(60, 80), _vectors(20, seed=3))
        store.remove([f"doc-{i}-ü" for i in range(0, 60, 2)])
        store.warm()
        warm = _hits(store, queries)
    with Store.open(tmp_path / "s") as fresh:
        assert _hits(fresh, queries) == warm
        assert not any(h[0] == "doc-0-ü" for row in warm for h in row)


def test_a_commit_by_another_connection_stops_the_table(tmp_path) -> None:
    """A reader whose index predates another process's commit must not show documents that
    commit removed (the SQLite lookup skips them; a table of the old generation would not)."""
    queries = _vectors(1, seed=4)
    _store(tmp_path).close()
    with Store.open(tmp_path / "s", readonly=True) as reader:
        reader.warm()
        top = _hits(reader, queries)[0][0][0]
        with Store.open(tmp_path / "s") as writer:
            writer.remove([top])
        assert reader.hit_table is not None
        assert top not in [h[0] for h in _hits(reader, queries)[0]]
        assert reader.hit_table is None


def test_a_setting_changed_by_another_connection_keeps_the_table(tmp_path) -> None:
    _store(tmp_path).close()
    with Store.open(tmp_path / "s", readonly=True) as reader:
        reader.warm()
        with Store.open(tmp_path / "s") as writer:
            writer.update_extra({"note": "x"})
        _hits(reader, _vectors(1))
        assert reader.hit_table is not None


def test_the_table_loads_once_lookups_have_cost_as_much(tmp_path) -> None:
    queries = _vectors(1, seed=5)
    with _store(tmp_path, n=30) as store:
        for _ in range(10_000):
            rank(store, queries, 10)
            if store.hit_table is not None:
                break
        assert store.hit_table is not None


def test_a_table_with_removed_ids_maps_ids_to_rows(tmp_path) -> None:
    with _store(tmp_path) as store:
        store.remove([f"doc-{i}-ü" for i in (0, 7, 59)])  # holes, and the last id gone
        store.warm()
        table = store.hit_table
        assert table is not None and len(table) == 57
        ids = [*range(-1, 62)]
        from_sqlite = store_db.hit_rows(store._conn, ids)
        trimmed = {
            i: (d, m, None if t is None else t[:TEXT_PREFIX_CHARS], p, j)
            for i, (d, m, t, p, j) in from_sqlite.items()
        }
        assert table.rows(ids) == trimmed and 7 not in trimmed and 59 not in trimmed


def test_hits_read_their_details_later_from_their_own_generation(tmp_path) -> None:
    """A hit decodes text and metadata on first access, from the table it came from: a commit
    in between (which replaces the table) must not change what an earlier hit shows."""
    queries = _vectors(1, seed=6)
    with _store(tmp_path) as store:
        store.warm()
        lazy = rank(store, queries, 5)[0]
        expected = [
            (h.doc_id, h.text, h.image_path, h.metadata) for h in rank(store, queries, 5)[0]
        ]
        store.remove([h.doc_id for h in lazy])
        store.add(_records(60, 70), _vectors(10, seed=7))
        store.warm()
        assert [(h.doc_id, h.text, h.image_path, h.metadata) for h in lazy] == expected
        lazy[0].text = "changed"
        assert lazy[0].text == "changed" and lazy[0].metadata == expected[0][3]


def _fields(rows: list[list]) -> list[list[tuple]]:
    return [
        [(h.doc_id, h.score, h.modality, h.text, h.image_path, h.metadata, h.rank) for h in row]
        for row in rows
    ]


@pytest.mark.skipif(hit_table.compiled is None, reason="the C extension is not built here")
@pytest.mark.parametrize("removed", [(), (0, 7, 59)])
def test_the_compiled_lookup_makes_the_python_lookups_hits(tmp_path, removed) -> None:
    """`_hit_table.c` and `HitTable.hits_python` agree on every field, for ids that are padding
    (-1), beyond the table, removed (the id → row map) or repeated, and on a sliced batch."""
    with _store(tmp_path) as store:
        store.remove([f"doc-{i}-ü" for i in removed])
        store.warm()
        table = store.hit_table
        assert table is not None
        rng = np.random.default_rng(3)
        ids = rng.integers(-1, 64, size=(7, 12)).astype(np.int64)
        ids[0, :3] = [7, 7, -1]
        scores = rng.normal(size=ids.shape).astype(np.float32)
        for s, i in ((scores, ids), (scores[:, :5], ids[:, :5])):
            compiled = table.hits_batch(s, i)
            assert _fields(compiled) == _fields(table.hits_python(s, i))
            assert all(type(h) is Hit for row in compiled for h in row)
        assert sum(map(len, compiled)) > 0


@pytest.mark.skipif(hit_table.compiled is None, reason="the C extension is not built here")
def test_the_compiled_lookup_leaves_other_arrays_to_the_python_loop(tmp_path) -> None:
    """Ids of 4 bytes would be read as garbage, so the compiled lookup declines them (and any
    non-FAISS dtype) and `hits_batch` takes the Python loop; bad table arrays are refused."""
    with _store(tmp_path) as store:
        store.warm()
        table = store.hit_table
        assert table is not None
        scores, ids = np.zeros((2, 3), np.float32), np.array([[0, 1, -1], [2, 2, 9]])
        for s, i in ((scores, ids.astype(np.int32)), (scores.astype(np.float64), ids)):
            assert hit_table.compiled.hits(s, i, table._arrays, table) is NotImplemented
            assert _fields(table.hits_batch(s, i)) == _fields(table.hits_python(s, i))
        with pytest.raises(ValueError, match="shape"):
            hit_table.compiled.hits(scores[:1], ids, table._arrays, table)
        with pytest.raises(TypeError, match="arrays"):
            hit_table.compiled.hits(scores, ids, table._arrays[:5], table)
        broken = (table._joined, np.asarray(table._info, np.float64), *table._arrays[2:])
        with pytest.raises(ValueError, match="info"):
            hit_table.compiled.hits(scores, ids, broken, table)
