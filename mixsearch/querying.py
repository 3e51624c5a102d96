"""The engine's read path: queries → vectors in the store's space → ranked hits.

Query texts go through the text encoder and the alignment's query side (read off once as an
affine map, `AffineQuerySide`); query images through the image encoder and the source side, like
image documents; weighted terms combine into one vector (`query_vector`); a stored document's own
vector is a "more like this" query (`search_like`). `search_aligned` bounds k and ranks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsearch import search_arrays
from mixsearch.encoder_checks import EncoderSpec
from mixsearch.errors import BadInputError, EncoderError
from mixsearch.fusion import l2_normalize, query_vectors
from mixsearch.rank import rank
from mixsearch.search_arrays import UNIT_TOLERANCE
from mixsearch.vectors import NORM_EPS

if TYPE_CHECKING:
    from mixsearch.align import Alignment
    from mixsearch.encoders.base import Encoder
    from mixsearch.engine import Engine
    from mixsearch.rank import Hit

MAX_HITS = 10_000  # per query: k and candidates beyond this only exhaust memory

ImageQuery = Any  # a path (str / Path), the file's bytes, or a PIL image


def search(
    engine: Engine,
    query: str | None,
    k: int,
    *,
    image: ImageQuery | None,
    modality: Any,
    where: Mapping[str, Any] | None,
    candidates: int | None,
    rescore: bool,
    query_encoder: EncoderSpec | Encoder | None,
    bridge: Alignment | str | Path | None,
) -> list[Hit]:
    """`Engine.search`: a text alone goes the batched text path (a bridge allowed); an image, with
    or without a text, becomes one `query_vector`."""
    options: dict[str, Any] = dict(
        modality=modality, where=where, candidates=candidates, rescore=rescore
    )
    if image is None:
        if query is None:
            raise BadInputError("give a query text, an image, or both")
        return engine.search_batch(
            [query], k, query_encoder=query_encoder, bridge=bridge, **options
        )[0]
    if query_encoder is not None or bridge is not None:
        raise BadInputError("an image query cannot go through a bridge (text encoders only)")
    vector = query_vector(engine, [(query, 1.0)] if query else (), [(image, 1.0)])
    return engine.search_aligned(vector, k, **options)[0]


def search_like(
    engine: Engine,
    doc_id: str,
    k: int,
    *,
    modality: Any,
    where: Mapping[str, Any] | None,
    candidates: int | None,
    rescore: bool,
) -> list[Hit]:
    """`Engine.search_like`: the stored vector is the query; the document itself is left out."""
    found = engine.store.faiss_ids([doc_id])
    if doc_id not in found:
        raise BadInputError(f"no document {doc_id!r} in {engine.path}")
    vector = engine.store.vectors_for([found[doc_id]])
    hits = search_aligned(
        engine,
        vector,
        k + 1,
        modality=modality,
        where=where,
        candidates=candidates,
        rescore=rescore,
    )[0]
    others = [h for h in hits if h.doc_id != doc_id][:k]
    for rank_, hit in enumerate(others, start=1):
        hit.rank = rank_
    return others


def query_vector(
    engine: Engine,
    texts: Sequence[tuple[str, float]],
    images: Sequence[tuple[ImageQuery, float]],
) -> np.ndarray:
    """`Engine.query_vector`: sum(weight · term vector), normalised."""
    if not texts and not images:
        raise BadInputError("empty query: give at least one text or image")
    parts, weights = [], []
    if texts:
        if any(not t or not t.strip() for t, _ in texts):
            raise BadInputError("empty query text")
        parts.append(
            query_vectors(engine.encoder.encode_texts([t for t, _ in texts]), engine.alignment)
        )
        weights += [w for _, w in texts]
    if images:
        parts.append(image_query_vectors(engine, [i for i, _ in images]))
        weights += [w for _, w in images]
    combined = np.asarray(weights, np.float32) @ np.concatenate(parts)
    if not np.linalg.norm(combined) > 1e-6:
        raise BadInputError("the weighted query terms cancel out: nothing to search for")
    return l2_normalize(combined[None, :])


def image_query_vectors(engine: Engine, images: Sequence[ImageQuery]) -> np.ndarray:
    """Images as queries: image encoder, then the alignment's source side, normalised."""
    from mixsearch.encoders import supports_images
    from mixsearch.encoders.images import load_query_image

    encoder = engine.encoder
    if not supports_images(encoder):
        raise EncoderError(f"the store's encoder {encoder.name!r} cannot encode images")
    raw = encoder.encode_images([load_query_image(i) for i in images])
    if engine.alignment is None:
        return l2_normalize(raw)
    return l2_normalize(engine.alignment.transform(raw, side="source", normalize=False))


def search_aligned(
    engine: Engine,
    vectors: np.ndarray,
    k: int,
    *,
    modality: Any = None,
    where: Mapping[str, Any] | None = None,
    candidates: int | None = None,
    rescore: bool = False,
    params: Mapping[str, Any] | None = None,
) -> list[list[Hit]]:
    """`Engine.search_aligned`: k and candidates bounded, then `rank.rank`."""
    if k < 1 or k > MAX_HITS:
        raise BadInputError(f"k must lie between 1 and {MAX_HITS}, got {k}")
    if candidates is not None and candidates > 4 * MAX_HITS:
        raise BadInputError(f"candidates must be at most {4 * MAX_HITS}, got {candidates}")
    return rank(
        engine.store,
        vectors,
        k,
        modality=modality,
        where=dict(where) if where else None,
        candidates=candidates,
        rescore=rescore,
        params=dict(params) if params else None,
    )


class AffineQuerySide:
    """Raw query embeddings → the store's space: the alignment's query side, then normalisation,
    in float32. The side is affine, so it is read off once per alignment as ``x @ A + b`` (A
    skipped when it is the identity, as for the centring maps) instead of calling
    `Alignment.transform` (float64) per query. One call does it all: right after a FAISS search
    has cooled the CPU caches, each Python call on a query's path costs microseconds."""

    def __init__(self) -> None:
        # (alignment, A, b) of the query side x @ A + b; None parts are identity / zero
        self._affine: tuple[Any, np.ndarray | None, np.ndarray | None] = (None, None, None)

    def __call__(self, alignment: Alignment | None, raw: np.ndarray, dim: int) -> np.ndarray:
        """``raw`` ([n, dim] or [dim] embeddings from the store's text encoder) mapped and
        normalised; embeddings of another dimension are refused."""
        if self._affine[0] is not alignment:
            self._affine = (alignment, *affine_query_side(alignment, dim))
        _, matrix, shift = self._affine
        q = search_arrays.query_rows(raw, dim)  # the common query needs no conversion
        try:
            if q is None:
                q = search_arrays.converted_query_rows(raw, dim)
            if matrix is not None:
                q = q @ matrix
            return search_arrays.unit_rows(q, shift, UNIT_TOLERANCE, NORM_EPS)
        except ValueError as err:  # another shape, or a row with NaN or infinity
            raise BadInputError(str(err)) from None


def affine_query_side(
    alignment: Alignment | None, dim: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(A, b) in float32 with ``alignment.transform(x, side="query") == x @ A + b`` (unnormalised);
    None for an identity A or a zero b."""
    if alignment is None:
        return None, None
    probe = np.vstack([np.zeros((1, dim)), np.eye(dim)])
    mapped = np.asarray(alignment.transform(probe, side="query", normalize=False), np.float64)
    shift, matrix = mapped[0], mapped[1:] - mapped[0]
    identity = matrix.shape[0] == matrix.shape[1] and np.allclose(matrix, np.eye(dim), atol=1e-6)
    return (
        None if identity else matrix.astype(np.float32),
        shift.astype(np.float32) if np.any(shift) else None,
    )
