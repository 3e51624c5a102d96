"""`mixsearch index / search / info / remove` end to end, through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mixsearch.cli.main import main
from mixsearch.cli.store import parse_where

pytestmark = pytest.mark.slow

COCO = Path(__file__).parents[2].parent / "shared" / "data" / "coco-mini"


def _bad_files(folder: Path) -> dict[str, str]:
    """One of each kind of broken file, and the word its reason must contain."""
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    good = folder / "photo_000.jpg"
    (folder / "truncated.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (folder / "latin1.txt").write_bytes("d\xe9j\xe0 vu".encode("latin-1"))
    return {"zero.jpg": "empty", "corrupt.png": "", "truncated.jpg": "", "latin1.txt": "UTF-8"}


def _photo_folder(folder: Path, n: int) -> None:
    import skimage.data

    rng = np.random.default_rng(0)
    base = np.asarray(skimage.data.chelsea())
    for i in range(n):
        noisy = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"photo_{i:03d}.jpg", quality=80)
        if i % 2 == 0:
            (folder / f"photo_{i:03d}.txt").write_text(f"a cat, picture {i}", encoding="utf-8")
    for i in range(n // 2):
        (folder / f"note_{i:03d}.txt").write_text(f"note number {i} about dogs", encoding="utf-8")


def test_bad_files_are_listed_and_good_ones_indexed(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _photo_folder(corpus, 50)  # 50 photos (25 captioned) + 25 notes = 75 good documents
    bad = _bad_files(corpus)  # 4 bad of 79 files: about 5%
    store = tmp_path / "store"

    status = main(["index", str(corpus), "--into", str(store), "--json", "--no-progress"])

    payload = json.loads(capsys.readouterr().out)
    assert status == 1
    assert payload["documents"] == 75
    reported = {Path(e["item"]).name: e["reason"] for e in payload["errors"]}
    assert set(reported) == set(bad)
    for name, word in bad.items():
        assert word.lower() in reported[name].lower()


def test_search_info_remove_json(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _photo_folder(corpus, 6)
    store = tmp_path / "store"
    assert main(["index", str(corpus), "--into", str(store), "--no-progress", "--json"]) == 0
    capsys.readouterr()

    assert main(["search", str(store), "a cat", "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert [h["rank"] for h in hits] == [1, 2, 3]

    assert main(["info", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 9

    assert main(["remove", str(store), "note_000.txt", "nope", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"removed": 1, "missing": ["nope"]}


def test_user_errors_are_one_line_with_status_2(tmp_path: Path, capsys) -> None:
    assert main(["search", str(tmp_path / "missing"), "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a mixsearch store" in err
    assert main(["index", str(tmp_path / "nothing"), "--into", str(tmp_path / "s")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_parse_where() -> None:
    assert parse_where(["year>=2020", "year<2024", "kind=photo", "n=3"]) == {
        "year": {"gte": 2020, "lt": 2024},
        "kind": "photo",
        "n": 3,
    }


@pytest.mark.skipif(not COCO.is_dir(), reason="../shared/data/coco-mini is not present")
def test_coco_mini_folder_query_returns_every_modality(tmp_path: Path, capsys) -> None:
    import importlib.util

    path = Path(__file__).parents[2] / "scripts" / "build_coco_folder.py"
    spec = importlib.util.spec_from_file_location("build_coco_folder", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.main(["--src", str(COCO), "--out", str(tmp_path / "coco"), "--limit", "90"]) == 0
    store = tmp_path / "store"
    assert main(["index", str(tmp_path / "coco"), "--into", str(store), "--no-progress"]) == 0
    capsys.readouterr()

    assert main(["search", str(store), "a man riding a horse", "-k", "15", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert {h["modality"] for h in hits} == {"text", "image", "image+text"}
