"""The linear maps themselves, computed from `PairStats` (never from the rows).

* orthogonal Procrustes: Q = UVᵀ from the SVD C = UΣVᵀ of the cross-covariance C = XᵀY/N
  (thin SVD, so Q is the [ds, dt] block of the zero-padded orthogonal solution);
* shrunk Procrustes (`auto`): the polar factor of C + λ·s·I, s = ‖C‖_F/√min(ds, dt) the RMS
  singular value, so λ is dimension- and scale-free; λ = 0 is plain Procrustes and λ → ∞ the
  (padded) identity, i.e. plain centering. With few pairs C's small singular directions are
  noise; adding the identity keeps those directions where they were instead of rotating them
  at random, which is what makes few-pair fits safe;
* ridge least squares (`lstsq`): W = (Σ_x + r·I)⁻¹ C, the paper's unconstrained baseline;
* optional isotropic scale s = tr(QᵀC)/tr(Σ_x), the least-squares optimum for a fixed Q.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from mixsearch.align.stats import PairStats

DEFAULT_RIDGE = 1e-3  # relative to the mean source variance: just enough to keep W well posed


def padded_identity(ds: int, dt: int) -> np.ndarray:
    return np.eye(ds, dt)


def polar_factor(c: np.ndarray) -> np.ndarray:
    """The orthogonal (partial-isometry) factor UVᵀ of ``c``: argmax_Q tr(QᵀC)."""
    try:
        u, _, vt = scipy.linalg.svd(c, full_matrices=False, lapack_driver="gesdd")
    except np.linalg.LinAlgError:
        # gesdd (divide and conquer) occasionally fails to converge; gesvd is slower but robust
        u, _, vt = scipy.linalg.svd(c, full_matrices=False, lapack_driver="gesvd")
    return u @ vt


def shrunk_procrustes(c: np.ndarray, lambda_: float) -> np.ndarray:
    """Polar factor of C + λ·rms_singular_value(C)·I; λ = inf gives the padded identity."""
    ds, dt = c.shape
    if math.isinf(lambda_):
        return padded_identity(ds, dt)
    if lambda_ == 0:
        return polar_factor(c)
    rms_singular = np.linalg.norm(c) / math.sqrt(min(ds, dt))
    return polar_factor(c + lambda_ * rms_singular * padded_identity(ds, dt))


def ridge_map(stats: PairStats, center: bool, ridge: float = DEFAULT_RIDGE) -> np.ndarray:
    cov = stats.source_cov(center)
    reg = ridge * np.trace(cov) / cov.shape[0]
    return scipy.linalg.solve(
        cov + reg * np.eye(cov.shape[0]), stats.cross_cov(center), assume_a="pos"
    )


def isotropic_scale(stats: PairStats, q: np.ndarray, center: bool) -> float:
    denom = stats.source_sq_norm(center)
    return float(np.sum(q * stats.cross_cov(center)) / denom) if denom > 0 else 1.0
