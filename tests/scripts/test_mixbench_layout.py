"""The shared MixBench-layout writer: modality split, fit/test split, layout invariants."""

from __future__ import annotations

from collections import Counter

import pytest
from builder_helpers import (
    check_output_folder_guard,
    check_subset_layout,
    load_script,
    read_jsonl,
    write_png,
)

layout = load_script("mixbench_layout")


@pytest.mark.parametrize("n", [3, 7, 10, 31])
def test_modalities_are_one_to_one_to_one(n):
    assigned = layout.assign_modalities([f"d{i}" for i in range(n)], seed=0)
    counts = Counter(assigned.values())
    assert set(counts) <= {"text", "image", "image+text"}
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) == n


def test_modalities_depend_on_seed_not_input_order():
    ids = [f"d{i}" for i in range(30)]
    assert layout.assign_modalities(ids, 1) == layout.assign_modalities(ids[::-1], 1)
    assert layout.assign_modalities(ids, 1) != layout.assign_modalities(ids, 2)


def test_fit_test_split_is_disjoint_and_complete():
    ids = [f"p{i}" for i in range(50)]
    test, fit = layout.split_fit_test(ids, 0.4, seed=3)
    assert not set(test) & set(fit)
    assert set(test) | set(fit) == set(ids)
    assert len(fit) == 20
    assert layout.split_fit_test(ids, 0.4, seed=3) == (test, fit)


def test_fit_fraction_out_of_range_is_refused():
    with pytest.raises(ValueError, match="fit fraction"):
        layout.split_fit_test(["a"], 1.0, seed=0)


def test_unique_queries_drops_every_item_sharing_a_query(tmp_path):
    items = [
        layout.BenchItem("a", tmp_path / "a.png", "x", ["A duck."]),
        layout.BenchItem("b", tmp_path / "b.png", "y", ["a  DUCK."]),
        layout.BenchItem("c", tmp_path / "c.png", "z", ["A crow."]),
    ]
    assert [i.item_id for i in layout.unique_queries(items)] == ["c"]


def test_write_subset_layout_and_symlinks(tmp_path):
    items = [
        layout.BenchItem(
            f"cat/item{i}", write_png(tmp_path / "src" / f"{i}.png", i), f"doc {i}", [f"q {i}"]
        )
        for i in range(9)
    ]
    counts = layout.write_subset(tmp_path / "out", items, seed=0, write_pairs=True)
    check_subset_layout(tmp_path / "out")
    assert counts.queries == counts.documents == 9
    assert counts.modalities == {"text": 3, "image": 3, "image+text": 3}
    image = tmp_path / "out" / "images" / "cat__item0.png"
    assert image.is_symlink() and image.resolve() == (tmp_path / "src" / "0.png").resolve()
    pairs = read_jsonl(tmp_path / "out" / "pairs.jsonl")
    assert {p["text"] for p in pairs} == {f"q {i}" for i in range(9)}


def test_join_sentences_ends_each_part():
    assert (
        layout.join_sentences(["a cat", "A dog.", "  ", "two  words"]) == "a cat. A dog. two words."
    )


def test_write_subset_replaces_only_a_folder_it_wrote(tmp_path):
    items = [
        layout.BenchItem(f"item{i}", write_png(tmp_path / "src" / f"{i}.png", i), "d", [f"q {i}"])
        for i in range(3)
    ]
    check_output_folder_guard(lambda out: layout.write_subset(out, items, seed=0), tmp_path)
