"""Stores written by mixsearch 0.1.0 still open, and answer as they did then.

The fixtures under ``tests/fixtures/stores/v0.1.0/`` were written by the code at commit cc59dfa
(``tests/fixtures/make_old_stores.py``), with the hits that code returned. They are format 1
(vectors kept in SQLite too): each test works on a copy, checks that opening it names `mixsearch
store migrate`, migrates it with that command, and asserts the same ids in the same order, and
scores within 1e-5.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mixsearch.cli.main import main
from mixsearch.errors import StoreVersionError
from mixsearch.rank import rank
from mixsearch.store import Store

FIXTURES = Path(__file__).parent.parent / "fixtures" / "stores" / "v0.1.0"


def _copy_fixtures(tmp_path: Path) -> Path:
    copy = tmp_path / "v0.1.0"
    shutil.copytree(FIXTURES, copy)
    return copy


def _migrated(path: Path) -> Path:
    with pytest.raises(StoreVersionError, match="mixsearch store migrate"):
        Store.open(path)
    assert main(["store", "migrate", str(path)]) == 0
    return path


def _assert_same_hits(got: list[tuple[str, float]], expected: list[list]) -> None:
    assert [doc_id for doc_id, _ in got] == [doc_id for doc_id, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-5)


def test_old_flat_store_opens_with_same_hits(tmp_path: Path) -> None:
    root = _copy_fixtures(tmp_path)
    expected = json.loads((root / "flat-store.expected.json").read_text())
    with Store.open(_migrated(root / "flat-store")) as store:
        assert store.dim == expected["dim"]
        assert len(store) == 35  # 36 added, one removed
        for case in expected["cases"]:
            hits = rank(
                store,
                np.asarray([case["query"]], np.float32),
                10,
                modality=case.get("modality"),
                where=case.get("where"),
            )[0]
            _assert_same_hits([(h.doc_id, h.score) for h in hits], case["hits"])


@pytest.mark.slow
def test_old_engine_store_opens_with_same_hits(tmp_path: Path) -> None:
    from mixsearch.engine import Engine

    root = _copy_fixtures(tmp_path)
    expected = json.loads((root / "engine-store.expected.json").read_text())
    with Engine.open(_migrated(root / "engine-store")) as engine:
        assert len(engine.store) == 8
        for case in expected["cases"]:
            hits = engine.search(case["query"], k=10)
            _assert_same_hits([(h.doc_id, h.score) for h in hits], case["hits"])
