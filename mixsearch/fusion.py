"""How documents and queries become vectors in the shared (text) space.

MixBench / GR-CLIP rule: an image+text document is normalise(α·t + (1−α)·i), where t and i are the
text and image vectors *after* their side's transform (centering, rotation) and before any
renormalisation — so with centering it equals normalise(α(t−μ_t) + (1−α)(i−μ_i)), exactly GR-CLIP's
"subtract α·text mean + (1−α)·image mean". Text-only and image-only documents are the normalised
transform of their one part. Everything here is numpy; the engine and the evaluation share it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mixsearch.align.mixed import fuse
from mixsearch.documents import Modality
from mixsearch.errors import BadInputError
from mixsearch.settings import DEFAULT_ALPHA
from mixsearch.vectors import l2_normalize

if TYPE_CHECKING:
    from mixsearch.align import Alignment


def document_vectors(
    text: np.ndarray | None,
    image: np.ndarray | None,
    modality: np.ndarray,
    alignment: Alignment | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> np.ndarray:
    """Vectors for N documents of mixed modality.

    ``text`` [N, D_t] and ``image`` [N, D_i] are row-aligned with ``modality`` [N]; rows of a part
    a document lacks are ignored (may hold anything, or the array may be None if no document has
    that part). Image vectors go through the alignment's ``source`` side, text through ``target``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise BadInputError(f"alpha must lie in [0, 1], got {alpha}")
    modality = np.asarray(modality)
    has_text = modality != Modality.IMAGE
    has_image = modality != Modality.TEXT
    t = _transformed(text, has_text, "target", alignment)
    i = _transformed(image, has_image, "source", alignment)
    dim = t.shape[1] if t is not None else i.shape[1]  # type: ignore[union-attr]
    out = np.zeros((len(modality), dim), dtype=np.float32)
    if t is not None:
        out[modality == Modality.TEXT] = t[modality == Modality.TEXT]
    if i is not None:
        out[modality == Modality.IMAGE] = i[modality == Modality.IMAGE]
    fused = modality == Modality.IMAGE_TEXT
    if fused.any():
        assert t is not None and i is not None
        out[fused] = fuse(t[fused], i[fused], alpha)  # the rule `auto`'s CV gallery uses too
    return l2_normalize(out)


def query_vectors(queries: np.ndarray, alignment: Alignment | None = None) -> np.ndarray:
    """Text query vectors: normalised (as the fit saw them, and as documents are), the
    alignment's query-side transform, then normalised again."""
    q = l2_normalize(queries)
    if alignment is not None:
        q = alignment.transform(q, side="query", normalize=False)
    return l2_normalize(q)


def _transformed(
    x: np.ndarray | None, mask: np.ndarray, side: str, alignment: Alignment | None
) -> np.ndarray | None:
    if x is None:
        if mask.any():
            raise ValueError(f"{int(mask.sum())} documents need {side!r} vectors but none given")
        return None
    x = l2_normalize(x)
    if alignment is None:
        return x
    out = np.zeros((len(x), _out_dim(alignment)), dtype=np.float32)
    if mask.any():
        out[mask] = alignment.transform(x[mask], side=side, normalize=False)  # type: ignore[arg-type]
    return out


def _out_dim(alignment: Alignment) -> int:
    return int(alignment.target_dim)
