"""coco-mini-as-folder: the folder and JSONL readers see the documents the queries point at."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from builder_helpers import SCRIPTS, check_output_folder_guard, load_script, read_jsonl
from test_build_coco_mini import fake_coco

from mixsearch.corpus import read_corpus

folder = load_script("build_coco_folder")


def test_folder_and_jsonl_match_the_queries(tmp_path):
    src = fake_coco(tmp_path / "src", n=9, broken={4})
    result = folder.build(src, tmp_path / "out", limit=6, seed=0)
    assert result["documents"] == 10  # 6 photos as image+text, plus 2 photo-only, 2 caption-only
    assert result["modalities"] == {"text": 2, "image": 2, "image+text": 6}
    assert result["problems"] == ["images/000000000004.jpg: image file not found, skipped"]
    from_folder = read_corpus(tmp_path / "out" / "corpus")
    from_jsonl = read_corpus(tmp_path / "out" / "corpus.jsonl")
    assert not from_folder.errors and not from_jsonl.errors
    assert Counter(d.modality.label for d in from_folder.documents) == Counter(
        d.modality.label for d in from_jsonl.documents
    )
    folder_docs = {d.id: d for d in from_folder.documents}
    for query in read_jsonl(tmp_path / "out" / "queries.jsonl"):
        doc = folder_docs[query["folder_id"]]
        assert query["query"] != doc.text  # another caption of the same photo
    assert all(p.is_symlink() for p in (tmp_path / "out" / "corpus").glob("*.jpg"))


def test_replaces_only_a_folder_it_built(tmp_path):
    src = fake_coco(tmp_path / "src", n=6)
    check_output_folder_guard(lambda out: folder.build(src, out, limit=3, seed=0), tmp_path)
    # the marker is hidden: the folder reader neither indexes nor counts it
    read = read_corpus(tmp_path / "guarded")
    assert ".mixsearch-dataset" not in {d.id for d in read.documents} | set(read.ignored)


def test_script_exits_with_one_line_error_for_a_foreign_out_folder(tmp_path):
    src = fake_coco(tmp_path / "src", n=3)
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("months of work", encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "build_coco_folder.py"),
            "--src",
            str(src),
            "--out",
            str(mine),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert run.stderr.splitlines() == [run.stderr.strip()]  # one line
    assert run.stderr.startswith("build_coco_folder: error: ") and str(mine) in run.stderr
    assert [p.name for p in mine.iterdir()] == ["chapter1.tex"]
