"""Bridges (model upgrade): another, newer text encoder queries a store without re-embedding it,
through an alignment fitted on texts embedded by both models. The bridge records both models'
fingerprints and is refused for any other pair."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mixsearch.alignment_choice import load_alignment
from mixsearch.encoder_checks import EncoderSpec, make_encoder, store_encoder_fingerprint
from mixsearch.errors import BadInputError, EncoderMismatchError

if TYPE_CHECKING:
    from mixsearch.align import Alignment
    from mixsearch.encoders.base import Encoder
    from mixsearch.engine import Engine


def fit_bridge(
    engine: Engine, query_encoder: EncoderSpec | Encoder, texts: Sequence[str], method: str
) -> Alignment:
    """`Engine.fit_bridge`: ``query_encoder``'s text space → the store's, fitted on ``texts``."""
    from mixsearch.align import fit_alignment
    from mixsearch.encoders import fingerprint_id

    new = make_encoder(query_encoder, engine._device)
    source = new.encode_texts(list(texts), progress=True)
    target = engine.encoder.encode_texts(list(texts), progress=True)
    # a bridge's queries only ever meet the other model's texts: pair retrieval is its ranking
    bridge = fit_alignment(source, target, method=method, objective="pairs")
    bridge.extra["source_fingerprint"] = fingerprint_id(new)
    bridge.extra["target_fingerprint"] = fingerprint_id(engine.encoder)
    bridge.extra["kind"] = "bridge"
    return bridge


def encode_queries(
    engine: Engine,
    queries: list[str],
    query_encoder: EncoderSpec | Encoder | None,
    bridge: Alignment | str | Path | None,
) -> np.ndarray:
    """Raw query embeddings in the store's text space: by the store's encoder, or by another one
    mapped through its bridge."""
    if query_encoder is None:
        if bridge is not None:
            raise BadInputError("a bridge needs a query_encoder (the model the bridge maps from)")
        return engine.encoder.encode_texts(queries)
    if bridge is None:
        raise BadInputError(
            "querying with another encoder needs a bridge alignment (bridge=); "
            "fit one with Engine.fit_bridge"
        )
    from mixsearch.encoders import fingerprint_id

    new = make_encoder(query_encoder, engine._device)
    bridge_alignment = load_alignment(bridge)
    check_bridge(bridge_alignment, fingerprint_id(new), store_encoder_fingerprint(engine))
    mapped = bridge_alignment.transform(new.encode_texts(queries), side="source", normalize=True)
    return np.asarray(mapped, dtype=np.float32)


def check_bridge(bridge: Alignment, query_fp: str, store_fp: str | None) -> None:
    src = bridge.extra.get("source_fingerprint")
    dst = bridge.extra.get("target_fingerprint")
    if src != query_fp or dst != store_fp:
        raise EncoderMismatchError(
            f"bridge maps encoder {src} → {dst}, but the query encoder is {query_fp} and the store "
            f"was built with {store_fp}; fit a bridge for this pair"
        )
