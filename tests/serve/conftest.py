"""One small real store for the serve tests, built once per session: scikit-image's CC0 photos
(some captioned) and a few text notes (scripts/sample_corpus.py), the offline default encoder with
its real packaged weights, plus a few documents with metadata for the filter tests."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _sample_corpus_module():
    spec = importlib.util.spec_from_file_location(
        "sample_corpus", ROOT / "scripts" / "sample_corpus.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve-corpus") / "corpus"
    _sample_corpus_module().write_sample_corpus(folder)
    return folder


@pytest.fixture(scope="session")
def built_store(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Path:
    """The sample corpus plus three dated notes (metadata ``year``), indexed once."""
    from mixsearch.corpus import read_corpus
    from mixsearch.documents import Document
    from mixsearch.engine import Engine

    store = tmp_path_factory.mktemp("serve-store") / "store"
    dated = [
        Document(
            f"note-{year}", text=f"A dog played on the beach in {year}.", metadata={"year": year}
        )
        for year in (2019, 2021, 2023)
    ]
    with Engine.create(store) as engine:
        report = engine.add(read_corpus(corpus_dir).documents + dated)
        assert not report.errors
    return store


@pytest.fixture
def store_copy(tmp_path: Path, built_store: Path) -> Path:
    """A private copy for tests that write."""
    return Path(shutil.copytree(built_store, tmp_path / "store"))
