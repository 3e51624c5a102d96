"""Session fixtures for the shard tests: the corpora of `shard_corpora`, written once."""

from __future__ import annotations

from pathlib import Path

import pytest
from shard_corpora import write_jsonl_corpus, write_photo_corpus


@pytest.fixture(scope="session")
def photo_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shard-corpus") / "photos"
    write_photo_corpus(folder)
    return folder


@pytest.fixture(scope="session")
def jsonl_corpus(photo_corpus: Path) -> Path:
    path = photo_corpus.parent / "docs.jsonl"
    write_jsonl_corpus(path, photo_corpus)
    return path
