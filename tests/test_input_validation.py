"""Bad input fails the one item it is in, with one line naming it and the reason; the rest of the
batch proceeds. Corpus readers and the engine's per-document checks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mixsearch.corpus import read_folder, read_jsonl
from mixsearch.documents import Document, document_problem
from mixsearch.errors import MixsearchError
from mixsearch.store.db import filter_sql


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    return path


def test_jsonl_bad_lines_fail_alone(tmp_path: Path) -> None:
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    deep = '{"id": "deep", "text": "x", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"
    lines = [
        json.dumps({"id": "good1", "text": "fine"}),
        '{"id": "nan", "text": "x", "metadata": {"score": NaN}}',
        '{"id": "inf", "text": "x", "metadata": {"score": -Infinity}}',
        '{"id": "surrogate\\ud800", "text": "x"}',
        '{"id": "lone-text", "text": "bad \\udc00 text"}',
        json.dumps({"id": "loop", "image": "loop.jpg"}),
        deep,
        json.dumps({"id": "good2", "text": "also fine", "metadata": {"year": 2020}}),
    ]
    read = read_jsonl(_jsonl(tmp_path / "docs.jsonl", lines))
    assert [d.id for d in read.documents] == ["good1", "good2"]
    reasons = {e.item.split(" ")[0]: e.reason for e in read.errors}
    assert set(reasons) == {f"docs.jsonl:{n}" for n in (2, 3, 4, 5, 6, 7)}
    assert "NaN" in reasons["docs.jsonl:2"] and "Infinity" in reasons["docs.jsonl:3"]
    assert "Unicode" in reasons["docs.jsonl:4"] and "Unicode" in reasons["docs.jsonl:5"]
    assert "image path unusable" in reasons["docs.jsonl:6"]
    assert "nested too deeply" in reasons["docs.jsonl:7"]
    assert all("\n" not in str(e) for e in read.errors)


def test_folder_lists_what_it_skips(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("a note")
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    bad_name = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(bad_name, "w") as handle:
        handle.write("latin-1 name")
    made_device = False
    if os.geteuid() == 0:
        os.mknod(tmp_path / "null.md", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        made_device = True

    read = read_folder(tmp_path)

    assert [d.id for d in read.documents] == ["note.txt"]
    reasons = {e.item: e.reason for e in read.errors}
    assert "FIFO" in reasons["pipe.txt"]
    assert "skipped" in reasons["dangling.txt"] and "skipped" in reasons["loop.jpg"]
    assert "UTF-8" in reasons["caf\\xe9.txt"]
    if made_device:
        assert "device" in reasons["null.md"]


def test_folder_image_paths_are_absolute(tmp_path: Path, monkeypatch) -> None:
    from PIL import Image

    (tmp_path / "corpus").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "corpus" / "a.png")
    monkeypatch.chdir(tmp_path)
    (doc,) = read_folder(Path("corpus")).documents
    assert doc.image is not None and doc.image.is_absolute()
    assert doc.image == tmp_path / "corpus" / "a.png"


@pytest.mark.parametrize(
    ("doc", "word"),
    [
        (Document("a\ud800", text="x"), "Unicode"),
        (Document("ok", text="x\udcff"), "Unicode"),
        (Document("ok", text="x", metadata={"v": float("nan")}), "JSON"),
        (Document("ok", text="x", metadata={"v": object()}), "JSON"),
        (Document("", text="x"), "non-empty"),
    ],
)
def test_document_problems_are_named(doc: Document, word: str) -> None:
    problem = document_problem(doc)
    assert problem is not None and word in problem


def test_a_sound_document_has_no_problem() -> None:
    assert document_problem(Document("é ✓", text="text", metadata={"year": 2020})) is None


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, float("inf"), float("nan")])
def test_filter_values_beyond_sqlite_are_one_line(value) -> None:
    with pytest.raises(MixsearchError, match="year") as caught:
        filter_sql(None, {"year": {"gte": value}})
    assert "\n" not in str(caught.value)


def test_int64_bounds_still_filter() -> None:
    clause, params = filter_sql(None, {"year": 2**63 - 1})
    assert 2**63 - 1 in params and clause


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["-k", "1000000000000"], "-k 1000000000000"),
        (["--where", "year>=99999999999999999999999"], "64 bits"),
        (["--where", "score<Infinity"], "finite"),
    ],
)
def test_search_bounds_are_one_line_before_opening(tmp_path: Path, capsys, argv, word) -> None:
    from mixsearch.cli.main import main

    # the store does not even exist: the arguments are refused first
    assert main(["search", str(tmp_path / "nowhere"), "q", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and word in err, err
