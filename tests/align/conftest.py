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


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """These tests run many small SVDs and matmuls: on the shared 2-core machine, spinning BLAS
    threads competing with other jobs made them ~7× slower than one thread (112 s vs 15 s)."""
    from mixsearch.align.threads import one_blas_thread

    with one_blas_thread():
        yield
