"""Shared helpers for the alignment tests: random unit vectors and random orthogonal maps."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats


def unit_rows(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def random_orthogonal(dim: int, seed: int) -> np.ndarray:
    return scipy.stats.ortho_group.rvs(dim, random_state=seed)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
