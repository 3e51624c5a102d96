"""Synthetic paired embeddings that behave like two real modalities, for tests and benchmarks.

Each item has a low-rank latent ``z`` (the shared content, ``rank`` dimensions with decaying
variance). The source side sees ``z·B`` plus isotropic modality-specific noise plus an offset
(the modality gap); the target side sees the same content rotated by a planted orthogonal ``Q*``
(a moderate rotation away from the identity, as between two roughly aligned CLIP towers) plus
its own noise and its own offset. Both sides are L2-normalised. With few pairs, plain Procrustes
fits the noise directions and rotates them at random; with many it recovers ``Q*``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from mixsearch.vectors import normalize_rows


@dataclass(frozen=True)
class SyntheticSpaces:
    """The fixed parts of a synthetic pair of spaces; `sample` draws items from them."""

    basis: np.ndarray  # [rank, dim] content → source space
    rotation: np.ndarray  # [dim, dim] planted Q*
    source_offset: np.ndarray  # [dim]
    target_offset: np.ndarray  # [dim]
    latent_scales: np.ndarray  # [rank]
    noise: float

    @classmethod
    def create(
        cls,
        dim: int,
        *,
        rank: int = 32,
        angle: float = 0.6,
        gap: float = 0.5,
        noise: float = 0.5,
        seed: int = 0,
    ) -> SyntheticSpaces:
        rng = np.random.default_rng(seed)
        basis = np.linalg.qr(rng.standard_normal((dim, rank)))[0].T * np.sqrt(dim / rank)
        skew = rng.standard_normal((dim, dim))
        skew = (skew - skew.T) / np.linalg.norm(skew - skew.T, 2)
        return cls(
            basis=basis,
            rotation=scipy.linalg.expm(angle * skew),
            source_offset=gap * _unit(rng.standard_normal(dim)) * np.sqrt(dim),
            target_offset=gap * _unit(rng.standard_normal(dim)) * np.sqrt(dim),
            latent_scales=np.linspace(1.5, 0.5, rank),
            noise=noise,
        )

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs (source, target) as float32, rows L2-normalised (generated in float32:
        benchmarks draw millions of rows and only the distribution matters)."""
        rng = np.random.default_rng(seed)
        f32 = np.float32
        dim, rank = self.basis.shape[1], len(self.latent_scales)
        latent = rng.standard_normal((n, rank), dtype=f32) * self.latent_scales.astype(f32)
        content = latent @ self.basis.astype(f32)
        source = content + f32(self.noise) * rng.standard_normal((n, dim), dtype=f32)
        target = content @ self.rotation.astype(f32)
        target += f32(self.noise) * rng.standard_normal((n, dim), dtype=f32)
        return _normalize(source + self.source_offset.astype(f32)), _normalize(
            target + self.target_offset.astype(f32)
        )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _normalize(x: np.ndarray) -> np.ndarray:
    return normalize_rows(x).astype(np.float32)
