"""Model-upgrade evaluation on synthetic spaces: model B is a rotated, noisier view of model A."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ortho_group

from mixsearch.errors import MixsearchError
from mixsearch.eval.report import write_report
from mixsearch.eval.upgrade import run_upgrade_benchmark

DIM = 16


def _models(seed: int, dim_b: int = DIM) -> dict:
    rng = np.random.default_rng(seed)
    rotation = ortho_group.rvs(DIM, random_state=seed)[:, :dim_b]

    def a(c: np.ndarray) -> np.ndarray:
        return c + 0.2 * rng.normal(size=c.shape)

    def b(c: np.ndarray) -> np.ndarray:
        return c @ rotation + 0.2 * rng.normal(size=(len(c), dim_b))

    docs, fit = rng.normal(size=(60, DIM)), rng.normal(size=(200, DIM))
    queries = docs + 0.3 * rng.normal(size=docs.shape)  # query i paraphrases document i
    return {
        "docs_a": a(docs),
        "queries_b": b(queries),
        "queries_a": a(queries),
        "fit_b": b(fit),
        "fit_a": a(fit),
        "qrels": np.arange(60),
    }


def test_alignment_recovers_most_of_the_ceiling(tmp_path: Path) -> None:
    data = _models(0)
    results = run_upgrade_benchmark(
        **data, methods=["none", "procrustes", "lstsq", "auto"], splits=2
    )
    m = results["methods"]
    assert list(m) == ["none", "procrustes", "lstsq", "auto", "ceiling"]
    assert m["none"]["ndcg@10"] < 0.4  # a rotated space is useless as it is
    assert m["procrustes"]["ndcg@10"] > 0.8
    assert m["ceiling"]["ndcg@10"] >= m["procrustes"]["ndcg@10"] - 0.05
    assert m["procrustes"]["n_refits"] == 2 and m["ceiling"]["n_refits"] == 0
    paths = write_report(results, tmp_path, "upgrade")
    assert "| ceiling |" in paths["markdown"].read_text()


def test_different_dimensions_skip_none_and_accept_qrel_rows() -> None:
    data = _models(1, dim_b=12)
    data["qrels"] = np.array([[i, i, 1.0] for i in range(60)])
    results = run_upgrade_benchmark(**data, methods=["none", "lstsq"], splits=1)
    assert "cannot be compared" in results["methods"]["none"]["error"]
    assert results["methods"]["lstsq"]["ndcg@10"] > 0.6
    assert results["dims"] == {"a": 16, "b": 12}


def test_bad_inputs_are_named() -> None:
    data = _models(2)
    data["fit_a"] = data["fit_a"][:10]
    with pytest.raises(MixsearchError, match="fit_a has 10 rows but fit_b 200"):
        run_upgrade_benchmark(**data, methods=["lstsq"])
    data = _models(2)
    data["qrels"] = np.arange(60) + 5
    with pytest.raises(MixsearchError, match="document index 60 out of range"):
        run_upgrade_benchmark(**data, methods=["lstsq"])
