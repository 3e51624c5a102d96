"""Helpers for testing the dataset build scripts, which live outside the package (scripts/)."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load_script(name: str):
    """Import ``scripts/NAME.py`` as a module (registered first: dataclasses need that)."""
    if name in sys.modules:
        return sys.modules[name]
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write_png(path: Path, seed: int) -> Path:
    """A small real PNG with seeded random pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_qrels(path: Path) -> list[tuple[str, str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "query_id\tcorpus_id\tscore"
    return [tuple(line.split("\t")) for line in lines[1:]]


def check_subset_layout(folder: Path) -> None:
    """The MixBench invariants every builder must keep."""
    queries = read_jsonl(folder / "queries.jsonl")
    corpus = read_jsonl(folder / "corpus.jsonl")
    mixed = read_jsonl(folder / "mixed_corpus.jsonl")
    qrels = read_qrels(folder / "qrels" / "qrels.tsv")
    doc_ids = [d["corpus_id"] for d in corpus]
    assert len(set(doc_ids)) == len(doc_ids)
    assert [d["corpus_id"] for d in mixed] == doc_ids
    assert {q["query_id"] for q in queries} == {q for q, _, _ in qrels}
    assert len(qrels) == len(queries)  # one relevant document per query
    assert {d for _, d, _ in qrels} <= set(doc_ids)
    for doc in corpus:
        assert doc["text"] and (folder / doc["image"]).is_file()
        assert not Path(doc["image"]).is_absolute()
    kinds = [("text" in d) + 2 * ("image" in d) for d in mixed]
    counts = [kinds.count(k) for k in (1, 2, 3)]
    assert max(counts) - min(counts) <= 1 and sum(counts) == len(mixed)


def check_output_folder_guard(build: Callable[[Path], object], tmp_path: Path) -> None:
    """``build(out)`` replaces an output folder it built itself (or an empty one), but stops with a
    one-line error naming a non-empty folder it did not build, and leaves that folder untouched."""
    out = tmp_path / "guarded"
    build(out)
    assert (out / ".mixsearch-dataset").is_file()
    (out / "stale.txt").write_text("left by an older build", encoding="utf-8")
    build(out)
    assert not (out / "stale.txt").exists() and (out / ".mixsearch-dataset").is_file()

    (tmp_path / "empty").mkdir()
    build(tmp_path / "empty")

    mine = tmp_path / "my-data"  # e.g. a typo in --out: the user's own folder
    (mine / "test").mkdir(parents=True)
    (mine / "test" / "notes.txt").write_text("keep me", encoding="utf-8")
    (mine / "photo.txt").write_text("keep me too", encoding="utf-8")
    with pytest.raises(SystemExit) as refused:
        build(mine)
    message = str(refused.value)
    assert str(mine) in message and "\n" not in message and "error" in message
    files = sorted(p.relative_to(mine).as_posix() for p in mine.rglob("*"))
    assert files == ["photo.txt", "test", "test/notes.txt"]
    assert (mine / "test" / "notes.txt").read_text(encoding="utf-8") == "keep me"
