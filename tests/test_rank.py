"""The ranking layer over a real store: filters, exact fallback, re-scoring, batching, Hits."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.documents import DocRecord, Modality
from mixsearch.errors import MixsearchError
from mixsearch.rank import SNIPPET_CHARS, Hit, filter_plan, rank, top_k
from mixsearch.store import Store, planner

DIM = 32
N = 2000


def clustered_unit_vectors(n: int, seed: int = 0, clusters: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, DIM))
    v = centers[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def records(n: int) -> list[DocRecord]:
    return [
        DocRecord(
            doc_id=f"d{i}",
            modality=Modality(i % 3),
            text=("long caption " * 40 if i == 7 else f"doc {i}"),
            image_path=None if i % 3 == 0 else f"img/{i}.png",
            metadata={"price": i % 100, "shop": "a" if i % 4 == 0 else "b"},
            content_hash=str(i),
        )
        for i in range(n)
    ]


VECTORS = clustered_unit_vectors(N)
QUERIES = clustered_unit_vectors(8, seed=5)


def exact_ids(queries: np.ndarray, allowed: np.ndarray, k: int) -> list[list[str]]:
    scores = queries @ VECTORS[allowed].T
    order = np.argsort(-scores, axis=1)[:, :k]
    return [[f"d{allowed[j]}" for j in row] for row in order]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    base = tmp_path_factory.mktemp("rank")
    opened = {}
    for spec in ("Flat", "HNSW32", "IVF16,SQ8"):
        store = Store.create(base / spec.replace(",", "_"), dim=DIM, index_spec=spec)
        store.add(records(N), VECTORS)
        opened[spec] = store
    yield opened
    for store in opened.values():
        store.close()


def test_unfiltered_matches_exact_search(stores):
    want = exact_ids(QUERIES, np.arange(N), 10)
    assert [[h.doc_id for h in hits] for hits in rank(stores["Flat"], QUERIES, 10)] == want
    got = rank(stores["HNSW32"], QUERIES, 10, params={"efSearch": 400})
    assert [[h.doc_id for h in hits] for hits in got] == want


def test_hits_carry_records_and_ranks(stores):
    hits = rank(stores["Flat"], VECTORS[7], k=3)[0]
    assert isinstance(hits[0], Hit) and hits[0].doc_id == "d7"
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5) and hits[0].score >= hits[1].score
    assert len(hits[0].text) == SNIPPET_CHARS and hits[0].text.endswith("…")
    d = hits[0].to_dict()
    assert d["modality"] == "image" and d["image_path"] == "img/7.png"
    assert d["metadata"] == {"price": 7, "shop": "b"}


@pytest.mark.parametrize("spec", ["Flat", "HNSW32", "IVF16,SQ8"])
def test_filters_return_only_matching_and_the_right_top(stores, spec):
    store = stores[spec]
    where = {"shop": "a", "price": {"gte": 20, "lt": 60}}
    allowed = np.array(
        [i for i in range(N) if i % 4 == 0 and 20 <= i % 100 < 60 and i % 3 == 1], dtype=np.int64
    )
    got = rank(store, QUERIES, 5, modality="image", where=where)
    for hits in got:
        for h in hits:
            assert h.modality == Modality.IMAGE and h.metadata["shop"] == "a"
            assert 20 <= h.metadata["price"] < 60
    assert [[h.doc_id for h in hits] for hits in got] == exact_ids(QUERIES, allowed, 5)


def test_large_filter_goes_through_faiss(stores, monkeypatch):
    store = stores["HNSW32"]
    allowed = store.filter_ids(where={"shop": "b"})
    monkeypatch.setattr(planner, "EXACT_MAX_BYTES", 0)  # too small to gather: the ANN path
    resolved = store.resolve_filter(where={"shop": "b"})
    assert not filter_plan(store, resolved, 5, {"efSearch": 400}).exact
    got = rank(store, QUERIES, 5, where={"shop": "b"}, params={"efSearch": 400})
    assert [[h.doc_id for h in hits] for hits in got] == exact_ids(QUERIES, allowed, 5)


def test_lossy_index_is_rescored_exactly(stores):
    store = stores["IVF16,SQ8"]
    assert store.is_lossy
    scores, ids = top_k(store, QUERIES, 5, params={"nprobe": 16})
    exact = np.einsum("qd,qkd->qk", QUERIES, VECTORS[ids])
    np.testing.assert_allclose(scores, exact, atol=1e-5)
    assert [[f"d{i}" for i in row] for row in ids] == exact_ids(QUERIES, np.arange(N), 5)


def test_empty_filter_and_bad_arguments(stores):
    store = stores["Flat"]
    assert rank(store, QUERIES[:2], 5, where={"shop": "zzz"}) == [[], []]
    with pytest.raises(MixsearchError, match="k must be"):
        rank(store, QUERIES, 0)
    with pytest.raises(MixsearchError, match=r"shape \[n, 32\]"):
        rank(store, QUERIES[:, :8], 5)


def test_k_beyond_corpus_is_padded_not_invented(tmp_path):
    with Store.create(tmp_path / "s", dim=DIM, index_spec="Flat") as store:
        assert rank(store, QUERIES[:1], 5) == [[]]
        store.add(records(3), VECTORS[:3])
        hits = rank(store, QUERIES[:1], 10)[0]
        assert sorted(h.doc_id for h in hits) == ["d0", "d1", "d2"]


def test_rescoring_drops_a_candidate_another_process_removed(tmp_path):
    """A reader's index still holds a document another connection removed after it loaded; its
    exact re-scoring leaves that candidate out instead of failing the search."""
    path = tmp_path / "s"
    with Store.create(path, dim=DIM, index_spec="IVF16,SQ8") as writer:
        writer.add(records(N), VECTORS)
    with Store.open(path, readonly=True) as reader:
        before = top_k(reader, QUERIES[:1], 10)[1][0]
        with Store.open(path) as writer:
            writer.remove([f"d{before[0]}"])
        after = top_k(reader, QUERIES[:1], 10)[1][0]  # lossy index: re-scored exactly
        assert before[0] not in after
        assert list(after[:9]) == list(before[1:])  # the rest in order, the next one joins
