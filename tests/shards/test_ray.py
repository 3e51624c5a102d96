"""`embed --ray`: real Ray on this machine (one session for the module: start-up costs seconds).

Ray Data actors encode whole shards with the same code as the in-process runner, so the vectors
agree; both sides run torch on one thread here because the offline encoder's top-50 class pooling
turns the different rounding of multi-threaded CPU kernels into differences of ~1e-3.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from mixsearch.cli.main import main
from mixsearch.shards import embed, load_shards

ray = pytest.importorskip("ray", reason="the `ray` extra (make test installs it)")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


@contextmanager
def one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def test_ray_vectors_equal_the_in_process_ones(
    ray_local: None, photo_corpus: Path, jsonl_corpus: Path, tmp_path: Path
) -> None:
    for corpus in (photo_corpus, jsonl_corpus):
        with one_torch_thread():
            here = embed(corpus, tmp_path / f"{corpus.name}-here", shard_size=16, cache=False)
        there = embed(
            corpus, tmp_path / f"{corpus.name}-ray", shard_size=16, cache=False, ray="local"
        )
        a, b = load_shards(here.out), load_shards(there.out)

        assert there.runner == "ray local" and len(there.encoded) == len(here.encoded) > 0
        assert [r.doc_id for r in a.records] == [r.doc_id for r in b.records]
        assert [r.content_hash for r in a.records] == [r.content_hash for r in b.records]
        assert [str(e) for e in a.errors] == [str(e) for e in b.errors]
        for x, y in ((a.text, b.text), (a.image, b.image)):
            assert x is not None and y is not None
            np.testing.assert_allclose(x, y, atol=1e-5)


def test_index_source_with_ray_matches_index_source(
    ray_local: None, jsonl_corpus: Path, tmp_path: Path, capsys
) -> None:
    via_ray, direct = tmp_path / "via-ray", tmp_path / "direct"
    status = main(["index", str(jsonl_corpus), "--into", str(via_ray), "--ray", "local", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert main(["index", str(jsonl_corpus), "--into", str(direct), "--no-progress"]) == status
    capsys.readouterr()

    assert status == 1 and [e["reason"] for e in payload["errors"]] == [
        "bad JSON: Expecting property name enclosed in double quotes"
    ]
    assert not Path(payload["shards"]).exists()  # the temporary shards went once committed
    from mixsearch import Engine

    with Engine.open(via_ray) as a, Engine.open(direct) as b:
        for query in ("a cat", "plain text", "caption"):
            hits_a, hits_b = a.search(query, k=10), b.search(query, k=10)
            assert [h.doc_id for h in hits_a] == [h.doc_id for h in hits_b]
            np.testing.assert_allclose(
                [h.score for h in hits_a], [h.score for h in hits_b], atol=1e-5
            )
