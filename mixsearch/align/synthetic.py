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


@dataclass(frozen=True)
class ModalityGapSpaces:
    """CLIP-like synthetic modalities on which pair retrieval and mixed ranking disagree.

    Items have a content vector ``z`` drawn around one of ``topics`` topic centres (so related
    items compete in a ranking). Both sides carry ``cos(angle)·z`` in one shared subspace A; the
    rest of the content, ``sin(angle)·z``, sits in a subspace B on the image side and in another
    subspace C on the text side (the rotation a map can learn). Each side adds its own
    *structured* variance ("style": ``style_rank`` directions no other side uses), isotropic
    noise and an offset (the modality gap).

    With centering only, a text's own image shares just the A part with it while texts of the
    same topic share all of their content: texts crowd images out of a mixed ranking, although
    images are still ranked well among themselves. Rotating B onto C fixes the first; a rotation
    fitted on few pairs also matches some style directions of the two sides by chance, which
    costs more among images than it gains. So the best λ for mixed ranking is small and the best
    λ for pair retrieval large — the situation measured on real CLIP vectors (issue 10).
    """

    shared: np.ndarray  # [rank, dim] A
    image_only: np.ndarray  # [rank, dim] B
    text_only: np.ndarray  # [rank, dim] C
    image_style: np.ndarray  # [style_rank, dim]
    text_style: np.ndarray  # [style_rank, dim]
    image_offset: np.ndarray  # [dim]
    text_offset: np.ndarray  # [dim]
    angle: float
    style: float
    noise: float
    topics: int
    spread: float

    @classmethod
    def create(
        cls,
        dim: int,
        *,
        rank: int = 16,
        style_rank: int = 16,
        angle: float = 0.7,
        style: float = 1.5,
        noise: float = 0.3,
        gap: float = 1.0,
        topics: int = 50,
        spread: float = 0.7,
        seed: int = 0,
    ) -> ModalityGapSpaces:
        rng = np.random.default_rng(seed)
        needed = 3 * rank + 2 * style_rank + 2
        if needed > dim:
            raise ValueError(f"dim {dim} is too small: the subspaces need {needed} dimensions")
        basis = np.linalg.qr(rng.standard_normal((dim, needed)))[0].T
        cut = np.cumsum([rank, rank, rank, style_rank, style_rank])
        a, b, c, si, st, offsets = np.split(basis, cut)
        return cls(
            shared=a,
            image_only=b,
            text_only=c,
            image_style=si,
            text_style=st,
            image_offset=gap * np.sqrt(rank) * offsets[0],
            text_offset=gap * np.sqrt(rank) * offsets[1],
            angle=angle,
            style=style,
            noise=noise,
            topics=topics,
            spread=spread,
        )

    def sample(self, n: int, seed: int, text_views: int = 1) -> tuple[np.ndarray, list[np.ndarray]]:
        """Images [n, dim] and ``text_views`` independent text renderings [n, dim] of the same
        ``n`` items (e.g. a document text and a query), float32, rows L2-normalised."""
        rng = np.random.default_rng(seed)
        rank = len(self.shared)
        centres = np.random.default_rng([seed, 7]).standard_normal((self.topics, rank))
        topic = rng.integers(0, self.topics, n)
        z = centres[topic] * np.sqrt(1 - self.spread**2)
        z = z + self.spread * rng.standard_normal((n, rank))
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        image = self._render(rng, cos * z @ self.shared + sin * z @ self.image_only, "image")
        texts = [
            self._render(rng, cos * z @ self.shared + sin * z @ self.text_only, "text")
            for _ in range(text_views)
        ]
        return image, texts

    def _render(self, rng: np.random.Generator, content: np.ndarray, side: str) -> np.ndarray:
        n, dim = content.shape
        style_basis = self.image_style if side == "image" else self.text_style
        offset = self.image_offset if side == "image" else self.text_offset
        style = self.style * rng.standard_normal((n, len(style_basis))) @ style_basis
        noise = 3 * self.noise * np.sqrt(len(self.shared) / dim) * rng.standard_normal((n, dim))
        return _normalize(content + style + noise + offset)
