"""`alignment_report`: bound, residuals, modality gap and held-out retrieval on real numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import random_orthogonal, unit_rows

from mixsearch.align import alignment_report, fit_alignment, format_report
from mixsearch.align.synthetic import SyntheticSpaces
from mixsearch.errors import MixsearchError


@pytest.fixture(scope="module")
def pairs() -> tuple[np.ndarray, np.ndarray]:
    return SyntheticSpaces.create(64, rank=16, angle=1.0, noise=1.5, gap=0.7, seed=2).sample(
        1500, seed=3
    )


def test_report_on_a_fitted_alignment(pairs) -> None:
    x, y = pairs
    alignment = fit_alignment(x, y, "procrustes")
    report = alignment_report(x, y, alignment, folds=3)
    assert report["n_pairs"] == 1500 and report["source_dim"] == report["target_dim"] == 64
    assert report["residual_procrustes"] <= report["bound"]
    # centring then rotating removes the gap an index would see
    assert report["gap_after"] < 0.2 * report["gap_before"]
    retrieval = report["retrieval"]
    assert set(retrieval["methods"]) == {"none", "center", "procrustes"}
    assert retrieval["after"]["R@1"] > retrieval["before"]["R@1"]
    assert 0 <= retrieval["after"]["R@1"] <= retrieval["after"]["R@10"] <= 1
    json.dumps(report)  # JSON-ready
    text = format_report(report)
    assert "bound" in text and "procrustes" in text


def test_report_fits_auto_when_no_alignment_given(pairs) -> None:
    x, y = pairs
    report = alignment_report(x[:300], y[:300], folds=3)
    assert report["alignment"]["method"] == "auto"
    assert "auto" in report["retrieval"]["methods"]
    assert report["lambda"] is not None


def test_identical_spaces_have_zero_distortion_and_residual(rng) -> None:
    x = unit_rows(200, 10, rng)
    report = alignment_report(x, x @ random_orthogonal(10, seed=0), fit_alignment(x, x, "none"))
    assert report["distortion"] == pytest.approx(0, abs=1e-6)
    assert report["residual_procrustes"] == pytest.approx(0, abs=1e-5)


def test_report_rejects_mismatched_alignment(pairs) -> None:
    x, y = pairs
    alignment = fit_alignment(x[:, :32], y, "center")
    with pytest.raises(MixsearchError, match="do not match the alignment"):
        alignment_report(x, y, alignment)
