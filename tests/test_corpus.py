"""Corpus readers on real files: folder pairing rules, JSONL and MixBench layouts, per-item errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mixsearch.corpus import read_corpus, read_folder, read_jsonl
from mixsearch.documents import Modality
from mixsearch.errors import MixsearchError


def _photo(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path)
    return path


def test_folder_pairs_image_with_same_stem_caption(tmp_path: Path) -> None:
    _photo(tmp_path / "dog.jpg")
    (tmp_path / "dog.txt").write_text("a dog on a beach", encoding="utf-8")
    _photo(tmp_path / "cat.png")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "horse.md").write_text("a horse in a field", encoding="utf-8")

    read = read_folder(tmp_path)

    by_id = {d.id: d for d in read.documents}
    assert read.errors == []
    assert set(by_id) == {"dog.jpg", "cat.png", "notes/horse.md"}
    assert by_id["dog.jpg"].modality == Modality.IMAGE_TEXT
    assert by_id["dog.jpg"].text == "a dog on a beach"
    assert by_id["cat.png"].modality == Modality.IMAGE
    assert by_id["notes/horse.md"].modality == Modality.TEXT


def test_folder_reports_undecodable_and_empty_text_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("fine text", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "empty.txt").write_bytes(b"")

    read = read_folder(tmp_path)

    assert [d.id for d in read.documents] == ["good.txt"]
    reasons = {e.item: e.reason for e in read.errors}
    assert set(reasons) == {"latin1.txt", "empty.txt"}
    assert "UTF-8" in reasons["latin1.txt"]


def test_jsonl_errors_name_the_line_and_reason(tmp_path: Path) -> None:
    _photo(tmp_path / "a.png")
    lines = [
        {"id": "1", "text": "first", "metadata": {"year": 2020}},
        {"id": "2", "image": "a.png"},
        {"id": "1", "text": "duplicate id"},
        {"id": "3", "image": "missing.png"},
        {"id": "4"},
        {"text": "no id"},
    ]
    raw = "\n".join(json.dumps(x) for x in lines) + "\n{not json\n"
    (tmp_path / "docs.jsonl").write_text(raw, encoding="utf-8")

    read = read_jsonl(tmp_path / "docs.jsonl")

    assert [d.id for d in read.documents] == ["1", "2"]
    assert read.documents[0].metadata == {"year": 2020}
    assert read.documents[1].image == (tmp_path / "a.png").resolve()
    reasons = [e.reason for e in read.errors]
    assert len(reasons) == 5
    assert any("duplicate" in r for r in reasons)
    assert any("not found" in r for r in reasons)
    assert any("empty document" in r for r in reasons)
    assert any("missing 'id'" in r for r in reasons)
    assert any("bad JSON" in r for r in reasons)
    assert all(e.item.startswith("docs.jsonl:") for e in read.errors)


def test_mixbench_layout_is_detected(tmp_path: Path) -> None:
    _photo(tmp_path / "img.png")
    (tmp_path / "queries.jsonl").write_text('{"query_id": "q1", "text": "x"}\n', encoding="utf-8")
    rows = [{"corpus_id": "d1", "text": "t"}, {"corpus_id": "d2", "image": "img.png"}]
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "qrels.tsv").write_text("query_id\tcorpus_id\tscore\nq1\td1\t1\n")
    (tmp_path / "mixed_corpus.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows), encoding="utf-8"
    )

    read = read_corpus(tmp_path)

    assert [(d.id, d.modality) for d in read.documents] == [
        ("d1", Modality.TEXT),
        ("d2", Modality.IMAGE),
    ]


def test_missing_corpus_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MixsearchError, match="does not exist"):
        read_corpus(tmp_path / "nope")


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16">'
    '<rect width="16" height="8" fill="red"/></svg>\n'
)


def test_folder_svg_reaches_the_image_loader(tmp_path: Path) -> None:
    """An SVG is an image document; loading it rasterises it (cairosvg installed) or reports the
    reason (not installed) — never silently dropped."""
    from mixsearch.encoders.images import load_image
    from mixsearch.errors import ItemLoadError

    (tmp_path / "logo.svg").write_text(SVG, encoding="utf-8")
    (tmp_path / "logo.txt").write_text("a red bar", encoding="utf-8")
    (tmp_path / "icons").mkdir()
    (tmp_path / "icons" / "star.SVG").write_text(SVG, encoding="utf-8")

    read = read_folder(tmp_path)

    by_id = {d.id: d for d in read.documents}
    assert read.errors == [] and read.ignored == []
    assert set(by_id) == {"logo.svg", "icons/star.SVG"}
    assert by_id["logo.svg"].modality == Modality.IMAGE_TEXT
    assert by_id["logo.svg"].text == "a red bar"
    assert by_id["icons/star.SVG"].modality == Modality.IMAGE
    try:
        import cairosvg  # noqa: F401
    except ImportError:
        for doc in by_id.values():
            assert doc.image is not None
            with pytest.raises(ItemLoadError, match="SVG is not rasterised"):
                load_image(doc.image)
    else:
        image = load_image(by_id["logo.svg"].image)
        assert image.mode == "RGB" and image.getpixel((0, 0))[0] > 200


def test_jsonl_accepts_an_svg_image(tmp_path: Path) -> None:
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "logo.svg").write_text(SVG, encoding="utf-8")
    (tmp_path / "docs.jsonl").write_text('{"id": "1", "image": "art/logo.svg"}\n', encoding="utf-8")

    read = read_corpus(tmp_path / "docs.jsonl")

    assert read.errors == [] and read.ignored == []
    assert [(d.id, d.image) for d in read.documents] == [
        ("1", (tmp_path / "art" / "logo.svg").resolve())
    ]


def test_folder_lists_unsupported_files_as_ignored_not_errors(tmp_path: Path) -> None:
    _photo(tmp_path / "cat.png")
    (tmp_path / "notes.txt").write_text("some notes", encoding="utf-8")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "meta.json").write_text("{}", encoding="utf-8")
    (tmp_path / "sub" / "README").write_text("no suffix", encoding="utf-8")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n", encoding="utf-8")

    read = read_folder(tmp_path)

    assert sorted(d.id for d in read.documents) == ["cat.png", "notes.txt"]
    assert read.errors == []
    assert read.ignored == ["sub/README", "sub/meta.json", "table.csv"]
    assert read_corpus(tmp_path).ignored == read.ignored
