"""Filter partitions on a graph store (real FAISS, real SQLite): a filter's documents in an IVF
index of their own, with filtered recall ≥ 0.95 against exact filtered search, never a removed
document, stopped by another process's commit, within the memory budget."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.documents import DocRecord, Modality
from mixsearch.rank import filter_plan, rank, top_k
from mixsearch.store import Store, filter_partitions, planner

from .test_filtered_search import (
    DIM,
    FILTERS,
    QUERIES,
    VECTORS,
    K,
    allowed_mask,
    exact_filtered,
    recall,
    records,
)

N = len(VECTORS)


def _graph_store(path, n: int = N) -> Store:
    store = Store.create(path, dim=DIM, index_spec="HNSW32")
    store.add(records(n), VECTORS[:n])
    store.set_search_params({"efSearch": 16})  # as `tune` would for the unfiltered search
    return store


@pytest.fixture(scope="module")
def warm_store(tmp_path_factory):
    with _graph_store(tmp_path_factory.mktemp("partitions") / "s") as store:
        store.warm()
        yield store


@pytest.fixture(autouse=True)
def no_exact_scoring(monkeypatch):
    """These small corpora's filters would be scored exactly (a few thousand documents): rule
    that out so the partition, or the widened graph search, answers as at 100k."""
    monkeypatch.setattr(planner, "EXACT_MAX_BYTES", 0)


def _plan(store: Store, name: str) -> planner.Plan:
    modality, where, _ = FILTERS[name]
    return filter_plan(store, store.resolve_filter(modality=modality, where=where), K)


@pytest.mark.parametrize("name", ["40%", "5%"])
def test_partition_recall_against_exact_filtered_search(warm_store, name):
    modality, where, _ = FILTERS[name]
    plan = _plan(warm_store, name)
    assert plan.method == "partition" and plan.partition is not None
    mask = allowed_mask(name)
    assert plan.partition.count == mask.sum()
    assert plan.partition.nprobe < plan.partition.nlist  # tuned, not an exhaustive scan
    found = top_k(warm_store, QUERIES, K, modality=modality, where=where)[1]
    assert np.isin(found[found >= 0], np.flatnonzero(mask)).all()
    assert recall(found, exact_filtered(mask)) >= 0.95


def test_the_planner_prefers_the_partition_to_the_widened_graph_search(warm_store):
    plan = _plan(warm_store, "40%")
    assert plan.method == "partition"
    assert plan.cost_partition is not None and plan.cost_partition < plan.cost_ann
    stats = warm_store.filter_partitions
    assert plan.partition.describe() in stats["partitions"]
    assert stats["bytes"] == sum(p["bytes"] for p in stats["partitions"]) <= stats["budget_bytes"]


def test_a_partition_is_built_once_the_graph_searches_have_cost_as_much(tmp_path):
    with _graph_store(tmp_path / "s", n=8000) as store:
        assert _plan(store, "40%").method == "ann"  # nothing paid yet: not built
        for _ in range(1000):
            top_k(store, QUERIES[:1], K, modality="image")  # a fraction of a build's cost
            if _plan(store, "40%").method == "partition":
                break
        assert _plan(store, "40%").method == "partition"
        images = store.resolve_filter(modality="image").count
        assert [p["documents"] for p in store.filter_partitions["partitions"]] == [images]


def test_a_removed_document_is_never_returned(tmp_path):
    with _graph_store(tmp_path / "s", n=8000) as store:
        store.warm()
        before = top_k(store, QUERIES, K, modality="image")[1]
        assert _plan(store, "40%").method == "partition"
        gone = np.unique(before[:, :3])
        store.remove([f"d{i}" for i in gone.tolist()])
        assert store.filter_partitions["partitions"] == []  # dropped with its generation
        after = top_k(store, QUERIES, K, modality="image")[1]
        assert _plan(store, "40%").method == "partition"  # rebuilt for the new generation
        assert not np.isin(after, gone).any()


def test_another_process_commit_stops_the_partition_and_new_documents_are_found(tmp_path):
    path = tmp_path / "s"
    _graph_store(path, n=8000).close()
    with Store.open(path) as reader:
        reader.warm()
        top = rank(reader, QUERIES[:1], K, modality="image")[0][0].doc_id
        assert _plan(reader, "40%").method == "partition"
        near = [DocRecord(f"new{i}", Modality.IMAGE, None, None, {}, f"n{i}") for i in range(3)]
        with Store.open(path) as writer:  # another handle: another process's commit
            writer.remove([top])
            writer.add(near, QUERIES[:3])  # image documents equal to the first queries
        assert _plan(reader, "40%").method != "partition"
        assert top not in [h.doc_id for h in rank(reader, QUERIES[:1], K, modality="image")[0]]
        reader.add(records(1, start=8000), VECTORS[8000:8001])  # loads the other commit first
        assert _plan(reader, "40%").method == "partition"
        hits = rank(reader, QUERIES[:3], K, modality="image")
        assert [row[0].doc_id for row in hits] == ["new0", "new1", "new2"]
        assert top not in [h.doc_id for row in hits for h in row]
        reader.rebuild("IVF64,Flat")  # not a graph any more: no partitions held
        assert reader.filter_partitions["partitions"] == []


def test_partitions_stay_within_the_memory_budget(tmp_path, monkeypatch):
    images = int(allowed_mask("40%").sum())
    few = int(allowed_mask("5%").sum())
    eight_bit = filter_partitions.partition_bytes(images, DIM, lossy=True)
    assert filter_partitions.partition_bytes(images, DIM, lossy=False) > eight_bit
    budget = eight_bit + filter_partitions.partition_bytes(few, DIM, lossy=False) - 1
    monkeypatch.setattr(filter_partitions, "PARTITION_MEMORY_BYTES", budget)
    with _graph_store(tmp_path / "s") as store:
        store.warm()
        found = top_k(store, QUERIES, K, modality="image")[1]
        stats = store.filter_partitions
        assert [p["codes"] for p in stats["partitions"]] == ["8-bit"]  # a float copy won't fit
        assert recall(found, exact_filtered(allowed_mask("40%"))) >= 0.95  # re-scored exactly
        top_k(store, QUERIES, K, where=FILTERS["5%"][1])
        stats = store.filter_partitions
        assert stats["bytes"] <= budget
        assert [p["documents"] for p in stats["partitions"]] == [few]  # the older one dropped
    monkeypatch.setattr(filter_partitions, "PARTITION_MEMORY_BYTES", eight_bit - 1)
    with Store.open(tmp_path / "s") as store:
        store.warm()
        assert _plan(store, "40%").method == "ann"  # not even 8-bit codes fit
        assert store.filter_partitions["partitions"] == []
