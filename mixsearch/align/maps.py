"""The linear maps themselves, computed from `PairStats` (never from the rows).

* orthogonal Procrustes: Q = UVᵀ from the SVD C = UΣVᵀ of the cross-covariance C = XᵀY/N
  (thin SVD, so Q is the [ds, dt] block of the zero-padded orthogonal solution). Where C is
  rank-deficient (fewer pairs than dimensions) every orthogonal completion of the null space is
  an optimum; we take the one closest to the identity — the limit of the shrunk map as λ → 0 —
  instead of whatever the SVD routine returns, which is an arbitrary rotation of those directions;
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

from mixsearch.align.stats import PairStats

DEFAULT_RIDGE = 1e-3  # relative to the mean source variance: just enough to keep W well posed
NULL_TOLERANCE = 10.0  # × machine epsilon × dimension: relative singular values counted as zero


def padded_identity(ds: int, dt: int) -> np.ndarray:
    return np.eye(ds, dt)


def svd(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD; gesdd (divide and conquer) occasionally fails to converge, gesvd is the
    slower, robust fallback."""
    import scipy.linalg  # here, not at the top: it costs a cold `mixsearch search` a second

    try:
        return scipy.linalg.svd(c, full_matrices=False, lapack_driver="gesdd")  # type: ignore[return-value]
    except np.linalg.LinAlgError:
        return scipy.linalg.svd(c, full_matrices=False, lapack_driver="gesvd")  # type: ignore[return-value]


def polar_factor(c: np.ndarray, complete_null: bool = True) -> np.ndarray:
    """The orthogonal (partial-isometry) factor UVᵀ of ``c``: argmax_Q tr(QᵀC).

    Null directions of a square ``c`` are completed by the orthogonal map nearest the identity
    (``complete_null=False`` skips the check, for matrices shifted by a multiple of I).
    """
    u, s, vt = svd(c)
    q = u @ vt
    if not complete_null or c.shape[0] != c.shape[1] or not len(s) or s[0] == 0:
        return q
    null = s < s[0] * NULL_TOLERANCE * len(s) * np.finfo(c.dtype).eps
    if not null.any():
        return q
    u_null, v_null = u[:, null], vt[null].T
    q -= u_null @ v_null.T
    nu, _, nvt = svd(u_null.T @ v_null)  # nearest rotation between the two null spaces
    return q + u_null @ (nu @ nvt) @ v_null.T


def rms_singular(c: np.ndarray) -> float:
    return float(np.linalg.norm(c)) / math.sqrt(min(c.shape))


def shrunk_procrustes(c: np.ndarray, lambda_: float) -> np.ndarray:
    """Polar factor of C + λ·rms_singular_value(C)·I; λ = inf gives the padded identity."""
    if math.isinf(lambda_):
        return padded_identity(*c.shape)
    return shifted_polar(c, rms_singular(c), lambda_)


def shifted_polar(c: np.ndarray, scale: float, lambda_: float) -> np.ndarray:
    """Polar factor of C + λ·scale·I for a finite λ (λ = 0: plain Procrustes, null space
    completed by the identity)."""
    if lambda_ == 0:
        return polar_factor(c)
    shift = lambda_ * scale * np.eye(*c.shape, dtype=c.dtype)
    return polar_factor(c + shift, complete_null=False)


def subspace_procrustes(c: np.ndarray, basis: np.ndarray, lambda_: float) -> np.ndarray:
    """`shrunk_procrustes` of a square C that maps the span W of ``basis`` (orthonormal columns)
    into itself and is zero outside it — the cross-covariance of fewer pairs than dimensions.

    C + μI is μ·I on W⊥, so the polar factor is W·polar(WᵀCW + μI)·Wᵀ + (I − WWᵀ): a k×k SVD
    instead of a D×D one, exactly (at λ = 0 the identity on W⊥ is the completion
    `polar_factor` chooses too).
    """
    dim = c.shape[0]
    if math.isinf(lambda_):
        return np.eye(dim)
    inner = shifted_polar(basis.T @ c @ basis, rms_singular(c), lambda_)
    return np.eye(dim) + basis @ (inner - np.eye(len(inner))) @ basis.T


def ridge_map(stats: PairStats, center: bool, ridge: float = DEFAULT_RIDGE) -> np.ndarray:
    cov = stats.source_cov(center)
    reg = ridge * np.trace(cov) / cov.shape[0]
    import scipy.linalg

    return scipy.linalg.solve(
        cov + reg * np.eye(cov.shape[0]), stats.cross_cov(center), assume_a="pos"
    )


def isotropic_scale(stats: PairStats, q: np.ndarray, center: bool) -> float:
    denom = stats.source_sq_norm(center)
    return float(np.sum(q * stats.cross_cov(center)) / denom) if denom > 0 else 1.0
