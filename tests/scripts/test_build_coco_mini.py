"""coco-mini builder on a fake captions.json with generated photos."""

from __future__ import annotations

import json

import pytest
from builder_helpers import (
    check_output_folder_guard,
    check_subset_layout,
    load_script,
    read_jsonl,
    write_png,
)

from mixsearch.eval.mixbench import check_disjoint, load_fit_data, load_mixbench

coco = load_script("build_coco_mini")


def fake_coco(root, n=6, broken=()):
    items = []
    for i in range(n):
        name = f"images/{i:012d}.jpg"
        if i not in broken:
            write_png(root / name, i)  # PNG bytes under .jpg: what matters is a real image file
        items.append(
            {
                "image": name,
                "coco_image_id": i,
                "split": "val2017",
                "captions": [f"photo {i} caption {k}" for k in range(5)],
            }
        )
    (root / "captions.json").write_text(json.dumps({"items": items}), encoding="utf-8")
    return root


def test_build_layout_split_and_queries(tmp_path):
    src = fake_coco(tmp_path / "src", n=10)
    result = coco.build(src, tmp_path / "out", seed=0, fit_fraction=0.4)
    test_dir, fit_dir = tmp_path / "out" / "test", tmp_path / "out" / "fit"
    check_subset_layout(test_dir)
    check_subset_layout(fit_dir)
    test_docs = {d["corpus_id"]: d for d in read_jsonl(test_dir / "corpus.jsonl")}
    fit_photos = {d["corpus_id"].split("-c")[0] for d in read_jsonl(fit_dir / "corpus.jsonl")}
    assert len(test_docs) == 6 and len(fit_photos) == 4
    assert not set(test_docs) & fit_photos
    assert result["counts"]["fit"].documents == 4 * 5  # one fit document per (caption, photo)
    for query in read_jsonl(test_dir / "queries.jsonl"):
        photo = query["query_id"].removesuffix("-q0")
        assert query["text"].startswith(f"photo {int(photo)} caption")
        assert query["text"] not in test_docs[photo]["text"]  # the query is held out of the doc
        assert test_docs[photo]["text"].count("caption") == 4
    assert (tmp_path / "out" / "SOURCE.md").read_text().count("queries") >= 2


def test_output_is_accepted_by_the_mixbench_loader(tmp_path):
    src = fake_coco(tmp_path / "src", n=10)
    coco.build(src, tmp_path / "out", seed=1)
    test = load_mixbench(tmp_path / "out" / "test")
    fit = load_fit_data(tmp_path / "out" / "fit")
    assert not test.errors and not fit.errors
    check_disjoint(fit, test)  # raises if any photo were in both
    assert len(fit.images) == 20 and len(test.queries) == 6


def test_missing_photo_is_reported_and_others_kept(tmp_path):
    src = fake_coco(tmp_path / "src", n=6, broken={2})
    result = coco.build(src, tmp_path / "out", seed=0)
    assert result["problems"] == ["images/000000000002.jpg: image file not found, skipped"]
    assert result["counts"]["test"].documents + result["counts"]["fit"].documents // 5 == 5


@pytest.mark.parametrize("seed", [0, 5])
def test_build_is_deterministic(tmp_path, seed):
    src = fake_coco(tmp_path / "src", n=9)
    coco.build(src, tmp_path / "a", seed=seed)
    coco.build(src, tmp_path / "b", seed=seed)
    for name in ("queries.jsonl", "mixed_corpus.jsonl"):
        assert (tmp_path / "a/test" / name).read_text() == (tmp_path / "b/test" / name).read_text()


def test_replaces_only_a_folder_it_built(tmp_path):
    src = fake_coco(tmp_path / "src", n=6)
    check_output_folder_guard(lambda out: coco.build(src, out, seed=0), tmp_path)
    assert (tmp_path / "guarded" / "test" / ".mixsearch-dataset").is_file()
    check_subset_layout(tmp_path / "guarded" / "test")
