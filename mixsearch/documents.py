"""The document model shared by corpus readers, the store, the ranking layer and evaluation."""

from __future__ import annotations

import json
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


def document_problem(doc: Document) -> str | None:
    """Why the store could not keep ``doc`` (one line), or None: checked per document, so one
    bad document fails alone instead of aborting its batch at the commit."""
    if not isinstance(doc.id, str) or not doc.id.strip():
        return "the id must be a non-empty string"
    for what, value in (("id", doc.id), ("text", doc.text)):
        if value is not None and not is_utf8(value):
            return f"the {what} is not valid Unicode (a lone surrogate or undecodable file name)"
    if not isinstance(doc.metadata, dict):
        return "metadata must be a JSON object"
    try:
        json.dumps(doc.metadata, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        return f"metadata is not storable JSON ({reason})"
    return None


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass
class DocRecord:
    """A document as the store keeps it (one SQLite row); vectors live in FAISS."""

    doc_id: str
    modality: Modality
    text: str | None
    image_path: str | None
    metadata: dict[str, Any]
    content_hash: str
