"""The `Alignment` value: transform sides, persistence, fingerprint, identity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import unit_rows

from mixsearch.align import Alignment, fit_alignment
from mixsearch.errors import MixsearchError


@pytest.fixture
def fitted(rng: np.random.Generator) -> Alignment:
    x = unit_rows(300, 12, rng) + 0.3
    y = unit_rows(300, 8, rng) - 0.2
    q = unit_rows(50, 8, rng) + 0.5
    return fit_alignment(x, y, "procrustes", query=q, scale=True, extra={"kind": "test"})


def test_transform_sides_follow_their_formulas(fitted: Alignment, rng: np.random.Generator) -> None:
    xs = rng.standard_normal((5, 12))
    xt = rng.standard_normal((5, 8))
    expected_source = fitted.scale * (xs - fitted.source_mean) @ fitted.Q
    np.testing.assert_allclose(
        fitted.transform(xs, "source", normalize=False), expected_source, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        fitted.transform(xt, "target", normalize=False),
        xt - fitted.target_mean,
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        fitted.transform(xt, "query", normalize=False), xt - fitted.query_mean, rtol=1e-5, atol=1e-6
    )
    # the query mean came from the query vectors, not the targets
    assert not np.allclose(fitted.query_mean, fitted.target_mean)
    out = fitted.transform(xs, "source")
    assert out.dtype == np.float32 and out.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_transform_rejects_wrong_side_and_dimension(fitted: Alignment) -> None:
    with pytest.raises(MixsearchError, match="unknown side 'image'"):
        fitted.transform(np.ones((2, 12)), "image")
    with pytest.raises(
        MixsearchError, match="target vectors have dimension 12, this alignment expects 8"
    ):
        fitted.transform(np.ones((2, 12)), "target")


def test_save_load_round_trip_is_exact(fitted: Alignment, tmp_path) -> None:
    fitted.save(tmp_path / "al")
    loaded = Alignment.load(tmp_path / "al")
    for name in ("Q", "source_mean", "target_mean", "query_mean"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(fitted, name))
    assert loaded.fingerprint == fitted.fingerprint
    assert loaded.to_dict() == json.loads(json.dumps(fitted.to_dict()))
    assert loaded.extra["kind"] == "test"
    assert sorted(p.name for p in (tmp_path / "al").iterdir()) == [
        "alignment.json",
        "alignment.npz",
    ]


def test_load_detects_arrays_from_another_fit(fitted: Alignment, tmp_path, rng) -> None:
    fitted.save(tmp_path / "a")
    other = fit_alignment(unit_rows(300, 12, rng), unit_rows(300, 8, rng), "procrustes")
    other.save(tmp_path / "b")
    (tmp_path / "b" / "alignment.npz").replace(tmp_path / "a" / "alignment.npz")
    with pytest.raises(MixsearchError, match="do not match the recorded fingerprint"):
        Alignment.load(tmp_path / "a")
    with pytest.raises(MixsearchError, match="not an alignment directory"):
        Alignment.load(tmp_path / "missing")


def test_lambda_inf_survives_json(rng: np.random.Generator, tmp_path) -> None:
    x = unit_rows(100, 6, rng)
    a = fit_alignment(x, x, "auto", lambdas=[np.inf])
    assert a.lambda_ == np.inf
    a.save(tmp_path)
    assert Alignment.load(tmp_path).lambda_ == np.inf


def test_identity_changes_nothing_and_pads(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 5))
    np.testing.assert_allclose(
        Alignment.identity(5).transform(x, "source", normalize=False), x, rtol=1e-6
    )
    padded = Alignment.identity(5, 7).transform(x, "source", normalize=False)
    np.testing.assert_allclose(padded[:, :5], x, rtol=1e-6)
    assert np.all(padded[:, 5:] == 0)


def test_fingerprint_tracks_content(rng: np.random.Generator) -> None:
    x, y = unit_rows(200, 6, rng), unit_rows(200, 6, rng)
    a = fit_alignment(x, y, "procrustes")
    assert a.fingerprint == fit_alignment(x, y, "procrustes").fingerprint
    assert a.fingerprint != fit_alignment(x, y, "center").fingerprint
    assert len(a.fingerprint) == 16
    with pytest.raises(ValueError):
        a.Q[0, 0] = 1.0  # arrays are read-only: a fingerprinted value cannot drift
