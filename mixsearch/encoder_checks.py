"""The engine's encoder: an argument read as a spec or an instance, loaded when first needed, and
refused when its fingerprint is not the one the store was built with (documents, shards and
queries of another model would land in a foreign space)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixsearch.errors import EncoderMismatchError, MixsearchError

if TYPE_CHECKING:
    from mixsearch.encoders.base import Encoder
    from mixsearch.engine import Engine

EncoderSpec = str | Mapping[str, Any]


def split_encoder(encoder: Any) -> tuple[EncoderSpec | None, Encoder | None]:
    """An encoder argument is a spec (name / config mapping) or an instance."""
    if encoder is None or isinstance(encoder, str | Mapping):
        return encoder, None
    return None, encoder


def make_encoder(encoder: EncoderSpec | Encoder, device: str) -> Encoder:
    spec, instance = split_encoder(encoder)
    if instance is not None:
        return instance
    from mixsearch.encoders import create_encoder

    return create_encoder(spec, device=device)  # type: ignore[arg-type]


def load_checked_encoder(engine: Engine, given: str | None, remedy: str | None) -> None:
    """`Engine.check_encoder`: load the encoder, then compare its fingerprint once."""
    if engine._encoder is None:
        if engine._encoder_spec is None:
            raise MixsearchError("this engine has no encoder (vector-only store)")
        from mixsearch.encoders import create_encoder

        engine._encoder = create_encoder(engine._encoder_spec, device=engine._device)
    if not engine._encoder_checked:
        check_encoder(engine, engine._encoder, given, remedy)
        engine._encoder_checked = True


def check_encoder(
    engine: Engine, encoder: Encoder, given: str | None = None, remedy: str | None = None
) -> None:
    expected = store_encoder_fingerprint(engine)
    if expected is None:
        return
    from mixsearch.encoders import fingerprint_id

    got = fingerprint_id(encoder)
    if got != expected:
        built = engine.settings.encoder_label
        raise EncoderMismatchError(
            f"{engine.path} was built with encoder {built} (fingerprint {expected}); "
            f"{given or f'encoder {encoder.name!r}'} has fingerprint {got}: "
            + (
                remedy
                or "use the same encoder, or query through a bridge alignment "
                "(query_encoder= and bridge=)"
            )
        )


def check_shard_encoder(engine: Engine, fingerprint: str, where: Path) -> None:
    """Shards are stored only by a store (or a new engine) of the encoder that made them."""
    expected = store_encoder_fingerprint(engine)
    if expected is None:
        from mixsearch.encoders import fingerprint_id

        expected = fingerprint_id(engine.encoder)  # a new store: its encoder, loaded here
    if fingerprint != expected:
        raise MixsearchError(
            f"{where} was encoded with encoder fingerprint {fingerprint}, but {engine.path} "
            f"uses {expected}: embed with the store's encoder, or index into a new store"
        )


def store_encoder_fingerprint(engine: Engine) -> str | None:
    if engine._store is None:
        return None
    return engine._store.manifest.get("extra", {}).get("encoder_fingerprint")
