"""A store's settings as one typed record, and the defaults, in one place.

The engine writes a `StoreSettings` into the manifest's ``extra`` when it creates a store and
reads it back on open; the CLI compares the settings a user asks for with it. Each field is a
value, not something parsed from a human label: in particular *how* the alignment was chosen
(`AlignmentChoice`) is a field of its own. Manifests written before this record existed
(mixsearch 0.1.0) are read too: there the choice is recovered from the origin label they kept.

Only the standard library is imported here, so every layer can use the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

DEFAULT_ENCODER = "offline-default"
DEFAULT_INDEX = "auto"
DEFAULT_ALIGN = "auto"
DEFAULT_ALPHA = 0.5
ALIGNMENT_DIR = "alignment"  # the folder inside a store that holds its alignment

# The start of the origin labels `auto` wrote in 0.1.0 manifests, the only way they tell the choice.
_LEGACY_AUTO_FITTED = "fitted on"
_LEGACY_AUTO_NONE = "none:"


class AlignmentChoice(StrEnum):
    """How a store's alignment was chosen."""

    AUTO_FITTED = "auto-fitted"  # `auto` fitted one on the corpus's image+text documents
    AUTO_NONE = "auto-none"  # `auto` found too few image+text documents: none
    GIVEN = "given"  # an alignment (object or folder) was given
    NONE = "none"  # no alignment was asked for

    @property
    def is_auto(self) -> bool:
        return self in (AlignmentChoice.AUTO_FITTED, AlignmentChoice.AUTO_NONE)


@dataclass(frozen=True)
class StoreSettings:
    """What a store was built with. ``encoder_spec`` is None for a vector-only store;
    ``alignment_origin`` is the human description ("fitted on 239 image+text documents of the
    corpus"); the alignment fields other than the choice are None when there is no alignment."""

    encoder_spec: str | dict[str, Any] | None = None
    encoder_fingerprint: str | None = None
    encoder_fingerprint_detail: dict[str, Any] | None = None
    alpha: float = DEFAULT_ALPHA
    alignment_choice: AlignmentChoice = AlignmentChoice.NONE
    alignment_origin: str | None = None
    alignment_fingerprint: str | None = None
    alignment_method: str | None = None
    alignment_file: str | None = None
    index_spec: str = DEFAULT_INDEX
    index_spec_resolved: str | None = None

    # ---- manifest round trip ------------------------------------------------------------------

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> StoreSettings:
        """The settings recorded in a store manifest (as `Store.manifest` returns it)."""
        extra = manifest.get("extra") or {}
        return cls(
            encoder_spec=extra.get("encoder_spec"),
            encoder_fingerprint=extra.get("encoder_fingerprint"),
            encoder_fingerprint_detail=extra.get("encoder_fingerprint_detail"),
            alpha=float(extra.get("alpha", DEFAULT_ALPHA)),
            alignment_choice=_recorded_choice(extra),
            alignment_origin=extra.get("alignment_origin"),
            alignment_fingerprint=extra.get("alignment_fingerprint") or None,
            alignment_method=extra.get("alignment_method"),
            alignment_file=extra.get("alignment_file"),
            index_spec=str(manifest.get("index_spec", DEFAULT_INDEX)),
            index_spec_resolved=manifest.get("index_spec_resolved"),
        )

    def to_extra(self) -> dict[str, Any]:
        """The manifest ``extra`` entries (the index spec is the store's own top-level field)."""
        extra: dict[str, Any] = {"alpha": self.alpha}
        if self.encoder_fingerprint is not None:
            extra["encoder_spec"] = self.encoder_spec
            extra["encoder_fingerprint"] = self.encoder_fingerprint
            extra["encoder_fingerprint_detail"] = self.encoder_fingerprint_detail
        extra["alignment_choice"] = self.alignment_choice.value
        extra["alignment_origin"] = self.alignment_origin
        extra["alignment_fingerprint"] = self.alignment_fingerprint
        if self.alignment_fingerprint is not None:
            extra["alignment_file"] = self.alignment_file
            extra["alignment_method"] = self.alignment_method
        return extra

    # ---- descriptions -------------------------------------------------------------------------

    @property
    def encoder_label(self) -> str:
        """'name', or 'name' (k=v, ...) for a spec with options."""
        return describe_encoder_spec(self.encoder_spec)

    @property
    def alignment_label(self) -> str:
        """ "method (origin)", or the reason there is none — the words `Engine.add` reports."""
        if not self.alignment_fingerprint:
            return str(self.alignment_origin or "none")
        return f"{self.alignment_method or '?'} ({self.alignment_origin or 'given'})"


def describe_encoder_spec(spec: Any) -> str:
    """An encoder spec as recorded in a manifest, for messages: 'name' or 'name' (k=v, ...)."""
    if isinstance(spec, Mapping):
        rest = ", ".join(f"{k}={v!r}" for k, v in spec.items() if k != "name")
        name = repr(spec.get("name", "?"))
        return f"{name} ({rest})" if rest else name
    return repr(spec) if spec is not None else "none (vector-only store)"


def auto_origin(fitted: bool, pairs: int, min_pairs: int) -> tuple[AlignmentChoice, str]:
    """What `auto` records: its choice, and the label that says why."""
    if fitted:
        return AlignmentChoice.AUTO_FITTED, f"fitted on {pairs} image+text documents of the corpus"
    return (
        AlignmentChoice.AUTO_NONE,
        f"none: {pairs} image+text documents, fewer than {min_pairs} to fit on",
    )


def _recorded_choice(extra: Mapping[str, Any]) -> AlignmentChoice:
    recorded = extra.get("alignment_choice")
    if recorded is not None:
        return AlignmentChoice(recorded)
    # A 0.1.0 manifest: only the origin label tells whether `auto` chose.
    origin = str(extra.get("alignment_origin") or "")
    if origin.startswith(_LEGACY_AUTO_FITTED):
        return AlignmentChoice.AUTO_FITTED
    if origin.startswith(_LEGACY_AUTO_NONE):
        return AlignmentChoice.AUTO_NONE
    return AlignmentChoice.GIVEN if extra.get("alignment_fingerprint") else AlignmentChoice.NONE
