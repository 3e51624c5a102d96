"""Store round trips on real FAISS and SQLite: add/upsert/remove/reopen/compact, filters, specs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mixsearch.documents import DocRecord, Modality
from mixsearch.errors import MixsearchError
from mixsearch.store import Store, StoreError, choose_index_spec

DIM = 32


def clustered_unit_vectors(n: int, dim: int = DIM, seed: int = 0, clusters: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim))
    v = centers[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def records(start: int, stop: int, prefix: str = "d") -> list[DocRecord]:
    return [
        DocRecord(
            doc_id=f"{prefix}{i}",
            modality=Modality(i % 3),
            text=f"document {i}",
            image_path=f"img/{i}.jpg" if i % 3 else None,
            metadata={"year": 2000 + i % 25, "lang": "en" if i % 2 else "fr"},
            content_hash=f"hash{i}",
        )
        for i in range(start, stop)
    ]


@pytest.fixture
def vectors() -> np.ndarray:
    return clustered_unit_vectors(600)


def doc_ids_of(store: Store, ids: np.ndarray) -> list[str]:
    return [r.doc_id for r in store.records(ids[ids >= 0])]


def test_add_search_reopen_round_trip(tmp_path, vectors):
    with Store.create(tmp_path / "s", dim=DIM, index_spec="Flat", extra={"enc": "a"}) as store:
        for start in range(0, 600, 100):
            store.add(records(start, start + 100), vectors[start : start + 100])
        assert len(store) == 600
        before = store.search(vectors[:5], 10)
    with Store.open(tmp_path / "s", expect={"enc": "a"}) as store:
        assert len(store) == 600
        after = store.search(vectors[:5], 10)
        np.testing.assert_array_equal(before[1], after[1])
        assert doc_ids_of(store, after[1][:, 0]) == [f"d{i}" for i in range(5)]
        assert store.get(["d3", "nope", "d1"])[0].metadata == {"year": 2003, "lang": "en"}
        assert [r.doc_id for r in store.get(["d3", "nope", "d1"])] == ["d3", "d1"]
        np.testing.assert_array_equal(store.vectors_for(after[1][:, 0]), vectors[:5])
        manifest = store.manifest
        assert manifest["counts"]["by_modality"] == {"text": 200, "image": 200, "image+text": 200}
        assert manifest["extra"] == {"enc": "a"}
        assert (
            json.loads((tmp_path / "s" / "manifest.json").read_text())["counts"]["documents"] == 600
        )
        assert store.check_integrity().ok


def test_duplicates_refused_with_nothing_committed(tmp_path, vectors):
    with Store.create(tmp_path / "s", dim=DIM, index_spec="Flat") as store:
        store.add(records(0, 10), vectors[:10])
        with pytest.raises(MixsearchError, match=r"'d5'.*nothing was added"):
            store.add(records(5, 15), vectors[5:15])
        batch = records(20, 25) + records(20, 21)
        with pytest.raises(MixsearchError, match=r"repeated within the batch: 'd20'"):
            store.add(batch, vectors[20:26])
        assert len(store) == 10 and store.contains(["d12", "d20"]) == set()
        generation = store.generation
    with Store.open(tmp_path / "s") as store:
        assert len(store) == 10 and store.generation == generation
        assert store.check_integrity().ok


def test_bad_vectors_name_the_documents(tmp_path, vectors):
    with Store.create(tmp_path / "s", dim=DIM) as store:
        bad = vectors[:4].copy()
        bad[2] = 0.0
        with pytest.raises(MixsearchError, match=r"'d2'"):
            store.add(records(0, 4), bad)
        with pytest.raises(MixsearchError, match=r"shape \(4, 32\)"):
            store.add(records(0, 4), vectors[:4, :16])
        store.add(records(0, 4), 3.0 * vectors[:4])  # raw (unnormalised) vectors are normalised
        np.testing.assert_allclose(store.vectors_for(store.all_ids()), vectors[:4], atol=1e-6)


@pytest.mark.parametrize("spec", ["Flat", "HNSW32", "IVF8,Flat"])
def test_upsert_remove_compact(tmp_path, vectors, spec):
    with Store.create(tmp_path / "s", dim=DIM, index_spec=spec) as store:
        store.add(records(0, 300), vectors[:300])
        store.upsert(records(290, 310), vectors[400:420])  # 10 replaced, 10 new
        assert len(store) == 310
        _, ids = store.search(vectors[400:401], 1, params={"efSearch": 200, "nprobe": 8})
        assert doc_ids_of(store, ids[:, 0]) == ["d290"]
        assert store.remove(["d0", "d1", "nope", "d0"]) == 2
        assert store.missing(["d0", "d2", "zz"]) == ["d0", "zz"]
        _, ids = store.search(vectors[:1], 5, params={"efSearch": 200, "nprobe": 8})
        assert "d0" not in doc_ids_of(store, ids[0])
        assert store.check_integrity().ok
        before = store.search(vectors[100:110], 5, params={"efSearch": 200, "nprobe": 8})[1]
    with Store.open(tmp_path / "s") as store:
        assert len(store) == 308 and store.check_integrity().ok
        store.compact()
        assert store.check_integrity().ok and store.manifest["counts"]["masked_dead"] == 0
        after = store.search(vectors[100:110], 5, params={"efSearch": 200, "nprobe": 8})[1]
        assert doc_ids_of(store, after[:, 0]) == doc_ids_of(store, before[:, 0])
    files = sorted(p.name for p in (tmp_path / "s").glob("index.*"))
    assert len(files) == (0 if spec == "Flat" else 1), files  # Flat: filled from the vectors
    assert len(list((tmp_path / "s").glob("vectors.*"))) == 1


def test_flat_and_hnsw_agree_at_high_ef(tmp_path):
    vectors = clustered_unit_vectors(3000, seed=1)
    queries = clustered_unit_vectors(20, seed=2)
    results = {}
    for spec in ("Flat", "HNSW32"):
        with Store.create(tmp_path / spec, dim=DIM, index_spec=spec) as store:
            for start in range(0, 3000, 1000):
                store.add(records(start, start + 1000), vectors[start : start + 1000])
            # efSearch = n: the graph search is then exhaustive. At 512 a graph may still miss a
            # hard-to-reach node (efConstruction 128 here misses one of the 200 hits at 512).
            results[spec] = store.search(queries, 10, params={"efSearch": 3000})
    np.testing.assert_array_equal(results["Flat"][1], results["HNSW32"][1])
    np.testing.assert_allclose(results["Flat"][0], results["HNSW32"][0], atol=1e-5)


def test_filters(tmp_path, vectors):
    with Store.create(tmp_path / "s", dim=DIM, index_spec="Flat") as store:
        store.add(records(0, 600), vectors)
        images = store.filter_ids(modality="image")
        assert {r.modality for r in store.records(images)} == {Modality.IMAGE}
        both = store.filter_ids(modality=[Modality.TEXT, "image+text"])
        assert len(both) == 400
        recent_en = store.records(
            store.filter_ids(where={"lang": "en", "year": {"gte": 2010, "lt": 2020}})
        )
        assert recent_en and all(
            r.metadata["lang"] == "en" and 2010 <= r.metadata["year"] < 2020 for r in recent_en
        )
        assert len(recent_en) == sum(1 for i in range(600) if i % 2 and 10 <= i % 25 < 20)
        with pytest.raises(MixsearchError, match="operators"):
            store.filter_ids(where={"year": {"between": 3}})
        with pytest.raises(MixsearchError, match="unknown modality"):
            store.filter_ids(modality="video")
        with pytest.raises(MixsearchError, match="at least one"):
            store.filter_ids(modality=[])


def test_open_refuses_other_fingerprint(tmp_path):
    fingerprint = {"model": "minilm", "dim": DIM}
    Store.create(tmp_path / "s", dim=DIM, extra={"encoder_fingerprint": fingerprint}).close()
    with pytest.raises(MixsearchError) as err:
        Store.open(tmp_path / "s", expect={"encoder_fingerprint": {"model": "clip", "dim": DIM}})
    message = str(err.value)
    assert "encoder_fingerprint differs" in message and "minilm" in message and "clip" in message
    Store.open(tmp_path / "s", expect={"encoder_fingerprint": dict(fingerprint)}).close()


def test_create_and_open_refusals(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(StoreError, match="not an empty directory"):
        Store.create(tmp_path / "full", dim=DIM)
    with pytest.raises(StoreError, match="not a mixsearch store"):
        Store.open(tmp_path / "full")
    with pytest.raises(MixsearchError, match="IVFx"):
        Store.create(tmp_path / "bad", dim=DIM, index_spec="IVFx,Flat")


def test_untrainable_spec_falls_back_to_flat_with_reason(tmp_path, vectors):
    with Store.create(tmp_path / "s", dim=DIM, index_spec="IVF1024,Flat") as store:
        store.add(records(0, 50), vectors[:50])
        manifest = store.manifest
        assert manifest["index_spec"] == "IVF1024,Flat"
        assert manifest["index_spec_resolved"] == "Flat"
        assert "could not be trained on 50" in manifest["index_note"]
        assert store.check_integrity().ok


def test_auto_resolves_by_size_and_upgrades(tmp_path, monkeypatch):
    monkeypatch.setattr("mixsearch.store.index_spec.FLAT_BELOW", 1000)  # keep the test small
    vectors = clustered_unit_vectors(1400, seed=3)
    with Store.create(tmp_path / "s", dim=DIM, checkpoint_rows=300) as store:
        store.add(records(0, 400), vectors[:400])
        assert store.manifest["index_spec_resolved"] == "Flat"
        for start in range(400, 1400, 500):
            store.add(records(start, start + 500), vectors[start : start + 500])
        assert (
            store.manifest["index_spec_resolved"] == "IVF35,Flat"
        )  # nlist capped at 1400 // 39 training points per list
        assert store.check_integrity().ok
        _, ids = store.search(vectors[1399], 1)
        assert doc_ids_of(store, ids[0]) == ["d1399"]


def test_choose_index_spec_rule():
    assert choose_index_spec(5_000, 512, 4 << 30) == "Flat"
    assert choose_index_spec(1_000_000, 512, 4 << 30) == "IVF4096,Flat"
    assert choose_index_spec(100_000, 512, 4 << 30) == "IVF1024,Flat"
    spec = choose_index_spec(50_000_000, 512, 4 << 30)
    assert spec.startswith("IVF") and ",PQ" in spec
    nlist = int(spec[3 : spec.index(",")])
    m = int(spec[spec.index("PQ") + 2 : spec.index("x")])
    assert nlist & (nlist - 1) == 0 and 4 * 7071 / 2 <= nlist <= 4 * 7071 * 2
    assert 512 % m == 0 and 50_000_000 * m <= 4 << 30


def test_search_params_persist(tmp_path, vectors):
    with Store.create(tmp_path / "s", dim=DIM, index_spec="IVF8,Flat") as store:
        store.add(records(0, 600), vectors)
        store.set_search_params({"nprobe": 3})
        with pytest.raises(MixsearchError, match="unknown search parameter"):
            store.set_search_params({"nprob": 3})
    with Store.open(tmp_path / "s") as store:
        assert store.search_params == {"nprobe": 3}
        assert store.manifest["search_params_tuned"] is True


def test_two_handles_take_turns_writing(tmp_path, vectors):
    first = Store.create(tmp_path / "s", dim=DIM, index_spec="Flat")
    first.add(records(0, 100), vectors[:100])
    second = Store.open(tmp_path / "s")
    second.add(records(100, 200), vectors[100:200])  # commits on top of the first's state
    first.add(records(200, 300), vectors[200:300])  # sees it is stale and reloads first
    assert len(first) == 300
    _, ids = first.search(vectors[150], 1)
    assert doc_ids_of(first, ids[0]) == ["d150"]
    first.close()
    second.close()
    with Store.open(tmp_path / "s") as store:
        assert len(store) == 300 and store.check_integrity().ok


def test_hnsw_removed_ids_never_come_back(tmp_path, vectors):
    with Store.create(tmp_path / "s", dim=DIM, index_spec="HNSW32") as store:
        store.add(records(0, 300), vectors[:300])
        store.remove([f"d{i}" for i in range(0, 300, 2)])
    with Store.open(tmp_path / "s") as store:
        assert store.check_integrity().ok
        everything = np.arange(300, dtype=np.int64)  # allowed ids that include removed ones
        for allowed in (None, everything):
            _, ids = store.search(vectors[:20], 10, params={"efSearch": 300}, allowed_ids=allowed)
            found = ids[ids >= 0]
            assert len(found) == 200 and not np.any(found % 2 == 0)


def test_rebuild_switches_the_index_spec_and_keeps_results(tmp_path) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(600, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        DocRecord(f"d{i}", Modality.TEXT, f"t{i}", None, {}, "") for i in range(len(vectors))
    ]
    store = Store.create(tmp_path / "s", dim=16, index_spec="Flat")
    store.add(records, vectors)
    _, before = store.search(vectors[:5], 3)

    store.rebuild("HNSW32")
    store.close()
    store = Store.open(tmp_path / "s")

    assert store.manifest["index_spec"] == "HNSW32"
    assert store.manifest["index_spec_resolved"] == "HNSW32"
    _, after = store.search(vectors[:5], 3, params={"efSearch": 256})
    assert (after == before).all()


@pytest.mark.parametrize("damage", ["garbage", "empty database"])
def test_unreadable_document_table_is_one_clear_error(tmp_path, damage):
    import sqlite3

    path = tmp_path / "store"
    Store.create(path, dim=4, index_spec="Flat").close()
    table = path / "store.sqlite"
    for leftover in path.glob("store.sqlite-*"):
        leftover.unlink()
    table.unlink()
    if damage == "garbage":
        table.write_bytes(b"this is not an SQLite file" * 100)
    else:
        sqlite3.connect(table).close()  # a valid database without the store's tables

    with pytest.raises(StoreError, match=r"cannot read its document table store\.sqlite"):
        Store.open(path)


def test_queries_of_any_layout_reach_faiss_as_float32_rows(tmp_path, vectors):
    """`Store.search` calls FAISS's C++ search, which reads the queries as raw memory: float64,
    strided or 1-d queries are converted first (same results), wrong widths refused, and the
    call itself refuses an array it was not given ready."""
    from mixsearch.store.faiss_call import faiss_search

    with Store.create(tmp_path / "s", dim=DIM, index_spec="HNSW16") as store:
        store.add(records(0, 600), vectors)
        expected = store.search(vectors[:4], 5)
        wide = np.zeros((4, 2 * DIM), np.float64)
        wide[:, ::2] = vectors[:4]  # every other column: a strided float64 view
        for queries in (vectors[:4].astype(np.float64), wide[:, ::2]):
            got = store.search(queries, 5)
            np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(store.search(vectors[0], 5)[1], expected[1][:1])
        with pytest.raises(StoreError, match=r"shape \[n, 32\]"):
            store.search(np.zeros((1, DIM + 1), np.float32), 5)
        assert store.index is not None
        with pytest.raises(ValueError, match="C-contiguous float32"):
            faiss_search(store.index, DIM, np.zeros((4, 2 * DIM), np.float32)[:, ::2], 5, None)
        with pytest.raises(ValueError, match="C-contiguous float32"):
            faiss_search(store.index, DIM, vectors[:4].astype(np.float64), 5, None)
        assert [len(row) for row in store.search_hits(vectors[:2], 3)] == [3, 3]
