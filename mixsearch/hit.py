"""`Hit`: one ranked document, as a search returns it.

A search resolves ~10 hits and most callers read each one's doc_id, score and modality and print
the rest of a few, so a hit made from the store's in-memory hit table
(`mixsearch.store.hit_table`) keeps its table row and decodes text, image path and metadata only
when one of them is read; ``metadata`` stays its stored JSON until read.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from mixsearch.documents import Modality

MODALITIES = tuple(Modality)  # code → Modality without the enum call's overhead
SNIPPET_CHARS = 200


class HitDetails(Protocol):
    """Where a lazily made hit reads its details: (text, image_path, metadata JSON) of a row."""

    def details(self, row: int) -> tuple[str | None, str | None, str]: ...


class Hit:
    """One ranked document: id, score, modality, text snippet, image path, metadata, rank."""

    __slots__ = ("_details", "_metadata", "_row", "_source", "doc_id", "modality", "rank", "score")

    def __init__(
        self,
        doc_id: str,
        score: float,
        modality: Modality,
        text: str | None,  # snippet of at most SNIPPET_CHARS characters
        image_path: str | None,
        metadata: dict[str, Any] | str,  # a dict, or its JSON text (decoded lazily)
        rank: int,  # 1-based
    ) -> None:
        self.doc_id = doc_id
        self.score = score
        self.modality = modality
        self.rank = rank
        self._details: tuple | None = (text, image_path, metadata)
        self._metadata: dict[str, Any] | None = None
        self._source: HitDetails | None = None
        self._row = -1

    @classmethod
    def of_row(
        cls, doc_id: str, score: float, code: int, row: int, source: HitDetails, rank: int
    ) -> Hit:
        """A hit whose details are read from ``source`` (row ``row``) when first accessed."""
        hit = cls.__new__(cls)
        hit.doc_id = doc_id
        hit.score = score
        hit.modality = MODALITIES[code]
        hit.rank = rank
        hit._details = None
        hit._metadata = None
        hit._source = source
        hit._row = row
        return hit

    def _read(self) -> tuple:
        details = self._details
        if details is None:
            assert self._source is not None
            text, image_path, metadata = self._source.details(self._row)
            details = self._details = (snippet(text), image_path, metadata)
        return details

    @property
    def text(self) -> str | None:
        return self._read()[0]

    @text.setter
    def text(self, value: str | None) -> None:
        self._details = (value, *self._read()[1:])

    @property
    def image_path(self) -> str | None:
        return self._read()[1]

    @image_path.setter
    def image_path(self, value: str | None) -> None:
        text, _, metadata = self._read()
        self._details = (text, value, metadata)

    @property
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            stored = self._read()[2]
            if isinstance(stored, str):
                stored = {} if stored == "{}" else json.loads(stored)
            self._metadata = stored
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._metadata = value

    def _fields(self) -> tuple:
        return (
            self.doc_id,
            self.score,
            self.modality,
            self.text,
            self.image_path,
            self.metadata,
            self.rank,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hit) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return (
            f"Hit(doc_id={self.doc_id!r}, score={self.score!r}, modality={self.modality!r}, "
            f"text={self.text!r}, image_path={self.image_path!r}, metadata={self.metadata!r}, "
            f"rank={self.rank!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "doc_id": self.doc_id,
            "score": self.score,
            "modality": self.modality.label,
            "text": self.text,
            "image_path": self.image_path,
            "metadata": self.metadata,
        }


def snippet(text: str | None) -> str | None:
    """``text`` cut to at most SNIPPET_CHARS characters, "…" marking a cut."""
    if text is None or len(text) <= SNIPPET_CHARS:
        return text
    return text[: SNIPPET_CHARS - 1] + "…"
