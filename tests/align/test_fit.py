"""Fitting: planted maps are recovered, the paper's bound holds, streaming equals in-memory."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from conftest import random_orthogonal, unit_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from mixsearch.align import (
    METHODS,
    fit_alignment,
    fit_alignment_from_files,
    fit_alignment_streaming,
)
from mixsearch.align.fit import alignment_from_stats
from mixsearch.align.report import procrustes_bound
from mixsearch.align.stats import PairStats
from mixsearch.errors import MixsearchError


@pytest.mark.parametrize("center", [True, False])
def test_planted_rotation_is_recovered(center: bool, rng: np.random.Generator) -> None:
    q_star = random_orthogonal(24, seed=3)
    x = unit_rows(3000, 24, rng) + 0.2  # an offset, so centering matters
    y = x @ q_star + 0.01 * rng.standard_normal(x.shape)
    fitted = fit_alignment(x, y, "procrustes", center=center, normalize_inputs=False)
    assert np.linalg.norm(fitted.Q - q_star) / np.sqrt(24) < 0.01
    assert fitted.orthogonality_error() < 1e-5


@pytest.mark.parametrize("method", ["procrustes", "auto"])
@pytest.mark.parametrize(("ds", "dt"), [(16, 16), (10, 16), (16, 10)])
def test_maps_are_orthogonal_also_when_dims_differ(method, ds, dt, rng) -> None:
    fitted = fit_alignment(unit_rows(400, ds, rng), unit_rows(400, dt, rng), method)
    assert fitted.Q.shape == (ds, dt)
    assert fitted.orthogonality_error() < 1e-5


def _padded_procrustes_residual(x: np.ndarray, y: np.ndarray) -> float:
    """Direct computation: zero-pad to a common width, solve, measure — the reference."""
    dim = max(x.shape[1], y.shape[1])
    xp = np.pad(x, ((0, 0), (0, dim - x.shape[1])))
    yp = np.pad(y, ((0, 0), (0, dim - y.shape[1])))
    q, _ = scipy.linalg.orthogonal_procrustes(xp, yp)
    return float(np.linalg.norm(xp @ q - yp))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 30),
    ds=st.integers(1, 10),
    dt=st.integers(1, 10),
    scale=st.floats(0.1, 10.0),
    seed=st.integers(0, 2**31),
)
def test_residual_never_exceeds_the_paper_bound(n, ds, dt, scale, seed) -> None:
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, ds)) * scale
    y = r.standard_normal((n, dt)) + x[:, :1]  # partly related, partly not
    out = procrustes_bound(PairStats.of(x, y, grams=True))
    direct_eps = np.linalg.norm(x @ x.T - y @ y.T)
    assert out["distortion"] == pytest.approx(direct_eps, rel=1e-6, abs=1e-6 * scale**2)
    assert out["residual_procrustes"] == pytest.approx(
        _padded_procrustes_residual(x, y), rel=1e-5, abs=1e-5 * (1 + scale)
    )
    assert out["residual_procrustes"] <= out["bound"] * (1 + 1e-9) + 1e-9


def _chunks(x: np.ndarray, y: np.ndarray, sizes: list[int]):
    start = 0
    for size in sizes:
        yield x[start : start + size], y[start : start + size]
        start += size


@pytest.mark.parametrize("method", METHODS)
def test_streaming_equals_in_memory(method: str, rng: np.random.Generator) -> None:
    x = unit_rows(700, 20, rng) + 0.1
    y = x @ random_orthogonal(20, seed=1) + 0.3 * rng.standard_normal((700, 20))
    query = unit_rows(40, 20, rng)
    whole = fit_alignment(x, y, method, query=query)
    streamed = fit_alignment_streaming(_chunks(x, y, [1, 99, 300, 300]), method, query=query)
    assert streamed.lambda_ == whole.lambda_
    for name in ("Q", "source_mean", "target_mean", "query_mean"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(whole, name), atol=1e-9)


def test_file_fit_equals_in_memory(tmp_path, rng: np.random.Generator) -> None:
    x = unit_rows(500, 16, rng).astype(np.float32)
    y = unit_rows(500, 12, rng).astype(np.float32)
    np.save(tmp_path / "s.npy", x)
    np.save(tmp_path / "t.npy", y)
    from_files = fit_alignment_from_files(
        tmp_path / "s.npy", tmp_path / "t.npy", "auto", chunk_rows=64
    )
    np.testing.assert_allclose(from_files.Q, fit_alignment(x, y, "auto").Q, atol=1e-9)


def test_cv_subsample_does_not_depend_on_chunking(tmp_path, rng: np.random.Generator) -> None:
    x = unit_rows(600, 8, rng).astype(np.float32)
    y = (x + 0.5 * rng.standard_normal(x.shape)).astype(np.float32)
    np.save(tmp_path / "s.npy", x)
    np.save(tmp_path / "t.npy", y)
    fits = [
        fit_alignment_from_files(
            tmp_path / "s.npy", tmp_path / "t.npy", "auto", chunk_rows=rows, cv_sample=150
        )
        for rows in (37, 600)
    ]
    assert fits[0].extra["cv"] == fits[1].extra["cv"]
    np.testing.assert_allclose(fits[0].Q, fits[1].Q, atol=1e-9)


def test_streaming_cv_subsample_is_bounded(rng: np.random.Generator) -> None:
    x = unit_rows(3000, 8, rng)
    y = x + 0.1 * rng.standard_normal(x.shape)
    fitted = fit_alignment_streaming(_chunks(x, y, [1000] * 3), "auto", cv_sample=500)
    assert fitted.extra["cv"]["pairs"] == 500
    assert fitted.n_pairs == 3000


def test_isotropic_scale_is_recovered(rng: np.random.Generator) -> None:
    x = unit_rows(1000, 10, rng)
    y = 2.5 * x @ random_orthogonal(10, seed=4)
    fitted = fit_alignment(x, y, "procrustes", scale=True, normalize_inputs=False)
    assert fitted.scale == pytest.approx(2.5, rel=1e-6)


def test_lstsq_recovers_a_general_linear_map(rng: np.random.Generator) -> None:
    w = rng.standard_normal((10, 6))
    x = rng.standard_normal((2000, 10))
    fitted = fit_alignment(x, x @ w, "lstsq", normalize_inputs=False)
    assert np.abs(fitted.Q - w).max() < 0.05


def test_center_and_none(rng: np.random.Generator) -> None:
    x, y = unit_rows(200, 6, rng) + 1.0, unit_rows(200, 6, rng) - 1.0
    center = fit_alignment(x, y, "center", normalize_inputs=False)
    np.testing.assert_allclose(center.source_mean, x.mean(axis=0))
    np.testing.assert_allclose(center.query_mean, y.mean(axis=0))
    np.testing.assert_allclose(center.Q, np.eye(6))
    none = fit_alignment(x, y, "none")
    assert not none.centered and np.all(none.source_mean == 0)


# -- validation -----------------------------------------------------------------------------


def test_row_count_mismatch() -> None:
    with pytest.raises(MixsearchError, match="source has 5 rows but target has 4"):
        fit_alignment(np.ones((5, 3)), np.ones((4, 3)))


def test_ragged_rows() -> None:
    with pytest.raises(MixsearchError, match="different lengths"):
        fit_alignment([[1.0, 2.0], [1.0]], np.ones((2, 2)))


def test_nan_rows_are_named(rng: np.random.Generator) -> None:
    x = unit_rows(100, 4, rng)
    x[[3, 70], 1] = np.nan
    x[90, 0] = np.inf
    with pytest.raises(MixsearchError, match=r"source: 3 row\(s\) \(3, 70, 90\) hold NaN or inf"):
        fit_alignment_streaming(_chunks(x, unit_rows(100, 4, rng), [50, 50]), "center")


def test_zero_rows_are_named(rng: np.random.Generator) -> None:
    y = unit_rows(20, 4, rng)
    y[7] = 0
    with pytest.raises(MixsearchError, match=r"target: 1 row\(s\) \(7\) are all zeros"):
        fit_alignment(unit_rows(20, 4, rng), y, "procrustes")


def test_fewer_pairs_than_folds(rng: np.random.Generator) -> None:
    with pytest.raises(MixsearchError, match="3 pairs are fewer than the 5 cross-validation folds"):
        fit_alignment(unit_rows(3, 4, rng), unit_rows(3, 4, rng), "auto")


def test_unknown_method_and_bad_query(rng: np.random.Generator) -> None:
    x = unit_rows(10, 4, rng)
    with pytest.raises(MixsearchError, match="unknown alignment method 'rotate'"):
        fit_alignment(x, x, "rotate")
    with pytest.raises(MixsearchError, match="query vectors have dimension 3, target has 4"):
        fit_alignment(x, x, "center", query=np.ones((2, 3)))


def test_missing_and_object_files(tmp_path) -> None:
    with pytest.raises(MixsearchError, match="source: file not found"):
        fit_alignment_from_files(tmp_path / "nope.npy", tmp_path / "nope.npy")
    np.save(tmp_path / "obj.npy", np.array([[1.0], [1.0, 2.0]], dtype=object), allow_pickle=True)
    np.save(tmp_path / "ok.npy", np.ones((2, 2)))
    with pytest.raises(MixsearchError, match="holds Python objects"):
        fit_alignment_from_files(tmp_path / "obj.npy", tmp_path / "ok.npy")


def test_chunks_with_changing_dims(rng: np.random.Generator) -> None:
    chunks = [
        (unit_rows(5, 4, rng), unit_rows(5, 4, rng)),
        (unit_rows(5, 3, rng), unit_rows(5, 4, rng)),
    ]
    with pytest.raises(MixsearchError, match="chunk at row 5 has dims"):
        fit_alignment_streaming(chunks, "center")


def test_cross_validation_keeps_duplicate_sources_in_one_fold() -> None:
    from mixsearch.align.crossval import duplicate_groups, fold_ids

    rng = np.random.default_rng(0)
    images = rng.normal(size=(40, 8))
    x = np.repeat(images, 5, axis=0)  # five captions per image: five identical image rows
    groups = duplicate_groups(x)
    ids = fold_ids(len(x), 5, seed=1, groups=groups)

    assert groups.max() + 1 == 40
    for g in range(40):
        assert len(set(ids[groups == g])) == 1
    assert sorted(np.bincount(ids)) == [40] * 5


def test_auto_fits_on_repeated_images() -> None:
    rng = np.random.default_rng(1)
    images = rng.normal(size=(60, 16))
    x = np.repeat(images, 5, axis=0)
    y = x + 0.5 * rng.normal(size=x.shape)
    alignment = fit_alignment(x, y, method="auto")
    assert alignment.method == "auto"
    assert alignment.orthogonality_error() < 1e-5


def test_one_lambda_is_used_as_given_without_cross_validation(rng: np.random.Generator) -> None:
    x, y = unit_rows(4, 8, rng), unit_rows(4, 8, rng)  # fewer pairs than folds: CV would refuse
    fitted = fit_alignment(x, y, "auto", lambdas=[0.5], folds=5)
    assert fitted.lambda_ == 0.5
    assert "cv" not in fitted.extra
    by_hand = alignment_from_stats(PairStats.of(x, y), "auto", lambda_=0.5)
    np.testing.assert_allclose(fitted.Q, by_hand.Q, atol=1e-12)
    with pytest.raises(MixsearchError, match="folds"):
        fit_alignment(x, y, "auto", lambdas=[0.5, 1.0], folds=5)


@pytest.mark.parametrize("method, lambdas", [("procrustes", None), ("auto", [0.3]), ("auto", None)])
def test_few_pairs_fit_in_their_subspace_equals_the_full_polar_factor(
    method: str, lambdas: list[float] | None, rng: np.random.Generator
) -> None:
    """Fewer pairs than 0.4 × D: the map comes from the pairs' own subspace, exactly."""
    x, y = unit_rows(40, 128, rng) + 0.1, unit_rows(40, 128, rng)
    fitted = fit_alignment(x, y, method, lambdas=lambdas)
    stats = PairStats.of(*(v / np.linalg.norm(v, axis=1, keepdims=True) for v in (x, y)))
    full = alignment_from_stats(stats, method, lambda_=fitted.lambda_)  # no basis: D × D SVD
    np.testing.assert_allclose(fitted.Q, full.Q, atol=1e-9)
    assert fitted.orthogonality_error() < 1e-10
