"""Sufficient statistics of paired embeddings, accumulated chunk by chunk in O(D²) memory.

Every fitting method only needs the pair count, the per-side sums and the cross products
XᵀY (and XᵀX, YᵀY for ridge maps and diagnostics), so a fit over a million memory-mapped rows
costs one pass and a few D×D float64 matrices. Statistics add and subtract, which is how
cross-validation gets each fold's training statistics (total − fold) without another pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PairStats:
    """Sums over N pairs. ``xtx``/``yty`` are optional (``grams``): the rotation needs only XᵀY,
    and skipping the two Gram matrices halves the cost of a streaming fit; their traces (the
    squared norms) are always kept."""

    n: int
    sum_x: np.ndarray  # [ds]
    sum_y: np.ndarray  # [dt]
    sq_x: float  # Σ‖x‖²
    sq_y: float  # Σ‖y‖²
    xty: np.ndarray  # [ds, dt]
    xtx: np.ndarray | None = None  # [ds, ds]
    yty: np.ndarray | None = None  # [dt, dt]

    @classmethod
    def empty(cls, ds: int, dt: int, grams: bool = False) -> PairStats:
        return cls(
            0,
            np.zeros(ds),
            np.zeros(dt),
            0.0,
            0.0,
            np.zeros((ds, dt)),
            np.zeros((ds, ds)) if grams else None,
            np.zeros((dt, dt)) if grams else None,
        )

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, grams: bool = False) -> PairStats:
        stats = cls.empty(x.shape[1], y.shape[1], grams)
        stats.add(x, y)
        return stats

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Accumulate one chunk of rows (as float64, so sums over millions of rows stay exact)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self.n += x.shape[0]
        self.sum_x += x.sum(axis=0)
        self.sum_y += y.sum(axis=0)
        self.sq_x += float(np.einsum("ij,ij->", x, x))
        self.sq_y += float(np.einsum("ij,ij->", y, y))
        self.xty += x.T @ y
        if self.xtx is not None and self.yty is not None:
            self.xtx += x.T @ x  # numpy runs aᵀa as a symmetric rank-k update
            self.yty += y.T @ y

    def __sub__(self, other: PairStats) -> PairStats:
        def diff(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or b is None else a - b

        return PairStats(
            self.n - other.n,
            self.sum_x - other.sum_x,
            self.sum_y - other.sum_y,
            self.sq_x - other.sq_x,
            self.sq_y - other.sq_y,
            self.xty - other.xty,
            diff(self.xtx, other.xtx),
            diff(self.yty, other.yty),
        )

    @property
    def mean_x(self) -> np.ndarray:
        return self.sum_x / self.n

    @property
    def mean_y(self) -> np.ndarray:
        return self.sum_y / self.n

    def cross_cov(self, center: bool) -> np.ndarray:
        """XᵀY/N, of the centred data when ``center``."""
        c = self.xty / self.n
        return c - np.outer(self.mean_x, self.mean_y) if center else c

    def source_cov(self, center: bool) -> np.ndarray:
        if self.xtx is None:
            raise ValueError("source covariance needs statistics accumulated with grams=True")
        c = self.xtx / self.n
        return c - np.outer(self.mean_x, self.mean_x) if center else c

    def source_sq_norm(self, center: bool) -> float:
        """Mean squared row norm of X (centred when ``center``): trace of its covariance."""
        mean_sq = self.sq_x / self.n
        return mean_sq - float(self.mean_x @ self.mean_x) if center else mean_sq
