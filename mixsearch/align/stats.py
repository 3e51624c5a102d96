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
    n: int
    sum_x: np.ndarray  # [ds]
    sum_y: np.ndarray  # [dt]
    xtx: np.ndarray  # [ds, ds]
    yty: np.ndarray  # [dt, dt]
    xty: np.ndarray  # [ds, dt]

    @classmethod
    def empty(cls, ds: int, dt: int) -> PairStats:
        return cls(
            0,
            np.zeros(ds),
            np.zeros(dt),
            np.zeros((ds, ds)),
            np.zeros((dt, dt)),
            np.zeros((ds, dt)),
        )

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> PairStats:
        stats = cls.empty(x.shape[1], y.shape[1])
        stats.add(x, y)
        return stats

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Accumulate one chunk of rows (converted to float64 so sums stay exact enough)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self.n += x.shape[0]
        self.sum_x += x.sum(axis=0)
        self.sum_y += y.sum(axis=0)
        self.xtx += x.T @ x
        self.yty += y.T @ y
        self.xty += x.T @ y

    def __sub__(self, other: PairStats) -> PairStats:
        return PairStats(
            self.n - other.n,
            self.sum_x - other.sum_x,
            self.sum_y - other.sum_y,
            self.xtx - other.xtx,
            self.yty - other.yty,
            self.xty - other.xty,
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
        c = self.xtx / self.n
        return c - np.outer(self.mean_x, self.mean_x) if center else c

    def source_sq_norm(self, center: bool) -> float:
        """Mean squared row norm of X (centred when ``center``): trace of its covariance."""
        return float(np.trace(self.source_cov(center)))
