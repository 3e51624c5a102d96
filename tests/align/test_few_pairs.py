"""`auto` is safe with few pairs and as good as Procrustes with many (synthetic modalities).

The synthetic spaces (see `mixsearch.align.synthetic`) share low-rank content, differ by a
planted rotation, a modality gap and independent noise: with 200 pairs at D=256 plain Procrustes
fits the noise and loses held-out recall; with 20k it beats centering. Held-out pairs are drawn
separately from the fit pairs.
"""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.align import fit_alignment, pair_retrieval
from mixsearch.align.synthetic import SyntheticSpaces

DIM = 256


@pytest.fixture(scope="module")
def spaces() -> SyntheticSpaces:
    return SyntheticSpaces.create(DIM, rank=32, angle=1.0, noise=2.0, gap=0.7, seed=1)


@pytest.fixture(scope="module")
def heldout(spaces: SyntheticSpaces) -> tuple[np.ndarray, np.ndarray]:
    return spaces.sample(1000, seed=99)


def _heldout_r1(method: str, fit_pairs, heldout, **kwargs) -> tuple[float, object]:
    alignment = fit_alignment(*fit_pairs, method, **kwargs)
    images, texts = heldout
    metrics = pair_retrieval(
        alignment.transform(texts, "query"), alignment.transform(images, "source")
    )
    return metrics["R@1"], alignment


@pytest.mark.parametrize("seed", [5, 6])
def test_auto_is_safe_with_few_pairs(spaces, heldout, seed: int) -> None:
    pairs = spaces.sample(200, seed=seed)
    r1 = {m: _heldout_r1(m, pairs, heldout)[0] for m in ("none", "center", "procrustes")}
    auto, alignment = _heldout_r1("auto", pairs, heldout)
    assert r1["procrustes"] < r1["center"] - 0.05, "the regime must make Procrustes overfit"
    assert auto >= r1["none"]
    assert auto >= r1["procrustes"]
    assert auto >= r1["center"] - 0.02
    assert alignment.lambda_ >= 1.0  # shrunk hard toward centering


def test_auto_matches_procrustes_with_many_pairs(spaces, heldout) -> None:
    pairs = spaces.sample(20_000, seed=7)
    procrustes, _ = _heldout_r1("procrustes", pairs, heldout)
    center, _ = _heldout_r1("center", pairs, heldout)
    auto, alignment = _heldout_r1("auto", pairs, heldout, folds=3)  # 3 folds: test time
    assert procrustes > center + 0.05, "with many pairs the rotation is worth learning"
    assert auto >= procrustes - 0.02
    assert alignment.lambda_ <= 0.3


def test_auto_learns_the_rotation_when_images_are_low_rank(rng) -> None:
    """Like ConSE image vectors (weighted means of ~100 class prompts): the source spans a
    low-dimensional subspace, so a rotation is well determined from a few hundred pairs and
    `auto` must not fall back to centering (an earlier pooled-gallery cross-validation did, on
    real ConSE vectors)."""
    dim, rank = 128, 24
    basis = np.linalg.qr(rng.standard_normal((dim, rank)))[0].T
    rotation = np.linalg.qr(rng.standard_normal((dim, dim)))[0]

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        content = rng.standard_normal((n, rank)) @ basis + 0.3
        target = content @ rotation + 0.3 * rng.standard_normal((n, dim))
        return content, target

    pairs, heldout = sample(400), sample(500)
    center, _ = _heldout_r1("center", pairs, heldout)
    procrustes, _ = _heldout_r1("procrustes", pairs, heldout)
    auto, alignment = _heldout_r1("auto", pairs, heldout)
    assert procrustes > center + 0.2
    assert auto >= procrustes - 0.03
    assert alignment.lambda_ < 1.0
