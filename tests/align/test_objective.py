"""`auto` chooses λ by the product's ranking (held-out mixed galleries), not by pair retrieval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import unit_rows

from mixsearch.align import alignment_report, fit_alignment, format_report
from mixsearch.align.crossval import FoldMaps, data_basis
from mixsearch.align.maps import polar_factor, rms_singular
from mixsearch.align.mixed import fuse, heldout_scores, mixed_ranks
from mixsearch.align.synthetic import ModalityGapSpaces


@pytest.fixture(scope="module")
def gap_spaces() -> ModalityGapSpaces:
    return ModalityGapSpaces.create(128, seed=0)


@pytest.fixture(scope="module")
def fits(gap_spaces):
    x, (y,) = gap_spaces.sample(250, seed=1)
    return {
        "mixed": fit_alignment(x, y, "auto"),
        "pairs": fit_alignment(x, y, "auto", objective="pairs"),
        "center": fit_alignment(x, y, "center"),
    }


def _test_scores(alignment, spaces: ModalityGapSpaces) -> dict:
    images, (doc_texts, queries) = spaces.sample(300, seed=2, text_views=2)
    return heldout_scores(
        alignment.transform(queries, "query"),
        alignment.transform(images, "source"),
        alignment.transform(doc_texts, "target"),
        alpha=0.5,
    )


def test_the_two_objectives_disagree_and_auto_follows_the_mixed_one(fits, gap_spaces) -> None:
    mixed, pairs = fits["mixed"], fits["pairs"]
    cv = mixed.extra["cv"]
    assert cv["objective"] == "mixed" and cv["primary"] == "mixed MRR"
    # on this data pair retrieval wants (almost) plain centering, mixed ranking a rotation
    assert mixed.lambda_ is not None and mixed.lambda_ <= 1.0
    assert pairs.lambda_ is not None and pairs.lambda_ >= 2.0
    assert cv["best_by"] == {"mixed": f"{mixed.lambda_:g}", "pairs": f"{pairs.lambda_:g}"}
    # and the choice carries over to new items: a fresh mixed corpus, queries in a new wording
    test = {name: _test_scores(a, gap_spaces) for name, a in fits.items()}
    assert test["mixed"]["mixed"]["MRR"] > 1.5 * test["pairs"]["mixed"]["MRR"]
    assert test["mixed"]["mixed"]["MRR"] > 1.5 * test["center"]["mixed"]["MRR"]
    # ... while pair retrieval alone would have said the opposite
    assert test["pairs"]["pairs"]["MRR"] > test["mixed"]["pairs"]["MRR"]
    # images get their place in the top 10
    assert test["mixed"]["top_share"]["image"] > 2 * test["center"]["top_share"]["image"]


def test_every_lambda_is_scored_by_both_objectives(fits) -> None:
    by_lambda = fits["mixed"].extra["cv"]["by_lambda"]
    assert "0.5" in by_lambda and "2" in by_lambda and "inf" in by_lambda
    for entry in by_lambda.values():
        assert set(entry) == {"mixed", "pairs", "top_share"}
        assert 0 <= entry["mixed"]["MRR"] <= 1 and 0 <= entry["pairs"]["R@1"] <= 1
        assert sum(entry["top_share"].values()) == pytest.approx(1.0)


def test_ties_go_to_the_larger_lambda(rng) -> None:
    # noise-free, well separated pairs: every λ ranks every own image first
    x = unit_rows(60, 32, rng)
    alignment = fit_alignment(x, x, "auto", folds=3)
    scores = alignment.extra["cv"]["scores"]
    assert set(scores.values()) == {1.0}
    assert math.isinf(alignment.lambda_)


def test_report_says_why_lambda_was_chosen(gap_spaces) -> None:
    x, (y,) = gap_spaces.sample(200, seed=5)
    alignment = fit_alignment(x, y, "auto")
    report = alignment_report(x, y, alignment, folds=5)
    cv = report["cv"]
    assert cv["chosen"] == f"{alignment.lambda_:g}"
    assert cv["before"]["top_share"]["image"] <= cv["by_lambda"][cv["chosen"]]["top_share"]["image"]
    text = format_report(report)
    assert "mixed MRR" in text and "pairs R@1" in text
    assert "pair retrieval alone" in text and "without a map" in text


@pytest.mark.parametrize("lambda_", [0.0, 0.1, 1.0, math.inf])
def test_low_rank_fold_maps_equal_the_full_polar_factor(lambda_, rng) -> None:
    """Fewer pairs than dimensions: the polar factor from the data subspace is exact."""
    x = rng.standard_normal((20, 64))
    y = rng.standard_normal((20, 64))
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    c = x.T @ y / len(x)
    basis = data_basis(x, y)
    assert basis is not None and basis.shape[1] < 64
    full = (
        np.eye(64)
        if math.isinf(lambda_)
        else polar_factor(c + lambda_ * rms_singular(c) * np.eye(64))
    )
    probe = rng.standard_normal((7, 64))
    got = FoldMaps(c, basis).mapper(lambda_)(probe.astype(np.float32))
    np.testing.assert_allclose(got, probe @ full, atol=2e-4)


def test_polar_factor_completes_a_null_space_with_the_identity(rng) -> None:
    x, y = rng.standard_normal((5, 12)), rng.standard_normal((5, 12))
    q = polar_factor(x.T @ y)
    np.testing.assert_allclose(q.T @ q, np.eye(12), atol=1e-10)
    # a direction orthogonal to both data spans is left where it was
    free = np.linalg.svd(np.vstack([x, y]))[2][-1]
    np.testing.assert_allclose(free @ q, free, atol=1e-10)


def test_mixed_ranks_against_a_direct_count(rng) -> None:
    q, images, texts = unit_rows(9, 6, rng), unit_rows(4, 6, rng), unit_rows(4, 6, rng)
    own = np.array([0, 0, 1, 1, 1, 2, 3, 3, 3])  # several captions per item
    fused = fuse(texts, images, 0.5)
    ranks, counts, pair = mixed_ranks(q, images, texts, fused, k=4, own=own)
    fused_n = fused / np.linalg.norm(fused, axis=1, keepdims=True)
    for i, item in enumerate(own):
        target = q[i] @ images[item]
        others = [images @ q[i], np.delete(texts @ q[i], item), np.delete(fused_n @ q[i], item)]
        assert ranks[i] == sum(int((o > target + 1e-12).sum()) for o in others)
        assert pair[i] == int((images @ q[i] > target + 1e-12).sum())
        assert counts[i].sum() == 4
    # an identical competitor ties and does not push the own image down
    ranks, _, _ = mixed_ranks(q[:2], q[:2], q[:2])
    assert ranks.tolist() == [0, 0]


def test_the_cv_gallery_fuses_as_the_store_does() -> None:
    from mixsearch.align import mixed
    from mixsearch.settings import DEFAULT_ALPHA

    assert mixed.DEFAULT_ALPHA == DEFAULT_ALPHA
