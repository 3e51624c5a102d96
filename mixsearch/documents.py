"""The document model shared by corpus readers, the store, the ranking layer and evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any


class Modality(IntEnum):
    """Integer codes match ``doc_modality.npy`` of the precomputed-embedding format."""

    TEXT = 0
    IMAGE = 1
    IMAGE_TEXT = 2

    @classmethod
    def parse(cls, value: str | int | Modality) -> Modality:
        if isinstance(value, cls):
            return value
        if isinstance(value, int):
            return cls(value)
        aliases = {
            "text": cls.TEXT,
            "image": cls.IMAGE,
            "image+text": cls.IMAGE_TEXT,
            "image_text": cls.IMAGE_TEXT,
            "mixed": cls.IMAGE_TEXT,
        }
        try:
            return aliases[value.strip().lower()]
        except KeyError:
            raise ValueError(
                f"unknown modality {value!r}; use one of text, image, image+text"
            ) from None

    @property
    def label(self) -> str:
        return {Modality.TEXT: "text", Modality.IMAGE: "image", Modality.IMAGE_TEXT: "image+text"}[
            self
        ]


@dataclass
class Document:
    """A document as read from a corpus, before encoding: text, an image file, or both."""

    id: str
    text: str | None = None
    image: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def modality(self) -> Modality:
        if self.text is not None and self.image is not None:
            return Modality.IMAGE_TEXT
        if self.image is not None:
            return Modality.IMAGE
        return Modality.TEXT


@dataclass
class DocRecord:
    """A document as the store keeps it (one SQLite row); vectors live in FAISS."""

    doc_id: str
    modality: Modality
    text: str | None
    image_path: str | None
    metadata: dict[str, Any]
    content_hash: str
