"""Tux Paint builder: caption reading, the document text, and a build on a tiny stamp tree."""

from __future__ import annotations

import pytest
from builder_helpers import (
    check_output_folder_guard,
    check_subset_layout,
    load_script,
    read_jsonl,
    write_png,
)

tux = load_script("build_tuxpaint")


@pytest.mark.parametrize(
    ("txt", "caption"),
    [
        ("A crow.\nfr.utf8=Un corbeau.\n", "A crow."),
        ("\n  A  US penny.  \nde.utf8=x\n", "A US penny."),
        ("fr.utf8=Seulement une traduction\n", None),
        ("", None),
    ],
)
def test_english_caption(txt, caption):
    assert tux.english_caption(txt) == caption


@pytest.mark.parametrize(
    ("relative", "words"),
    [
        ("animals/birds/cardinal", "animals birds: cardinal"),
        (
            "symbols/money/us/coins/050kennedy-halfdollar",
            "symbols money us coins: kennedy halfdollar",
        ),
        ("food/greenApple_2", "food: green apple"),
        ("lone", "lone"),
    ],
)
def test_path_words(relative, words):
    from pathlib import Path

    assert tux.path_words(Path(relative)) == words


def test_build_on_a_tiny_tree(tmp_path):
    stamps = tmp_path / "root" / "usr" / "share" / "tuxpaint" / "stamps"
    captions = {
        "animals/birds/crow": "A crow.",
        "animals/birds/duck": "A duck.",
        "animals/birds/duck2": "a duck.",  # shared caption: both dropped
        "food/apple": "A green apple.",
        "food/pear": "A pear.",
        "space/planet": "A planet.",
        "space/star": "A star.",  # SVG-only: dropped
    }
    for n, (key, caption) in enumerate(captions.items()):
        txt = stamps / f"{key}.txt"
        txt.parent.mkdir(parents=True, exist_ok=True)
        txt.write_text(f"{caption}\nfr.utf8=traduction\n", encoding="utf-8")
        if key == "space/star":
            txt.with_suffix(".svg").write_text("<svg/>", encoding="utf-8")
        else:
            write_png(txt.with_suffix(".png"), n)
    log = []
    result = tux.build(
        tmp_path / "root", tmp_path / "out", seed=0, fit_fraction=0.25, log=log.append
    )
    assert result["usable"] == 4
    assert result["dropped"] == {
        "no PNG (SVG-only or missing image)": 1,
        "caption shared by several stamps": 2,
    }
    assert any("space/star.txt" in line for line in log)
    check_subset_layout(tmp_path / "out" / "test")
    check_subset_layout(tmp_path / "out" / "fit")
    docs = read_jsonl(tmp_path / "out/test/corpus.jsonl") + read_jsonl(
        tmp_path / "out/fit/corpus.jsonl"
    )
    queries = {q["text"] for q in read_jsonl(tmp_path / "out/test/queries.jsonl")}
    assert len(docs) == 4
    assert not queries & {d["text"] for d in docs}  # the caption never is the document text
    # a rebuild replaces only an output folder the script built itself
    check_output_folder_guard(
        lambda out: tux.build(tmp_path / "root", out, seed=0, fit_fraction=0.25, log=log.append),
        tmp_path,
    )
