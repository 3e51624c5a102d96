"""Encoder output for a run of documents, by position: what a shard file is written from.

The in-process runner encodes a whole shard at once; a Ray actor encodes a batch of documents and
sends back one row per document (`to_batch`), which the driver gathers per shard (`from_batches`).
Both go through `encode_rows`, hence through the same `encode_documents` as `Engine.add`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsearch.document_encoding import content_hash, encode_documents
from mixsearch.documents import Document
from mixsearch.errors import ItemError

if TYPE_CHECKING:
    from mixsearch.encoders import EmbeddingCache
    from mixsearch.encoders.base import Encoder


@dataclass
class EncodedRows:
    """``positions``: input positions of the documents that encoded, ascending; the other arrays
    are row-aligned with it (zeros where ``has_text``/``has_image`` is False). ``errors``: the
    input position and the reason of each document that did not encode."""

    positions: np.ndarray
    hashes: list[str]
    text: np.ndarray
    has_text: np.ndarray
    image: np.ndarray
    has_image: np.ndarray
    errors: list[tuple[int, ItemError]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.positions)


def encode_rows(
    encoder: Encoder, docs: Sequence[Document], cache: EmbeddingCache | None = None
) -> EncodedRows:
    docs = list(docs)
    raw = encode_documents(encoder, docs, cache=cache)
    position = {id(doc): i for i, doc in enumerate(docs)}
    kept = np.array([position[id(doc)] for doc in raw.documents], dtype=np.int64)
    n, dim = len(kept), encoder.dim
    return EncodedRows(
        positions=kept,
        hashes=[content_hash(doc) for doc in raw.documents],
        text=raw.text if raw.text is not None else np.zeros((n, dim), np.float32),
        has_text=np.array([d.text is not None for d in raw.documents], dtype=bool),
        image=raw.image if raw.image is not None else np.zeros((n, dim), np.float32),
        has_image=np.array([d.image is not None for d in raw.documents], dtype=bool),
        errors=[(position[id(doc)], err) for doc, err in zip(raw.failed, raw.errors, strict=True)],
    )


def to_batch(rows: EncodedRows, count: int, dim: int) -> dict[str, np.ndarray]:
    """One row per input document (``count`` of them): vectors, or the error's item and reason."""
    ok = np.zeros(count, dtype=bool)
    ok[rows.positions] = True
    out: dict[str, Any] = {
        "ok": ok,
        "content_hash": np.full(count, "", dtype=object),
        "text_vector": np.zeros((count, dim), np.float32),
        "has_text": np.zeros(count, dtype=bool),
        "image_vector": np.zeros((count, dim), np.float32),
        "has_image": np.zeros(count, dtype=bool),
        "error_item": np.full(count, "", dtype=object),
        "error_reason": np.full(count, "", dtype=object),
    }
    out["content_hash"][rows.positions] = rows.hashes
    out["text_vector"][rows.positions] = rows.text
    out["has_text"][rows.positions] = rows.has_text
    out["image_vector"][rows.positions] = rows.image
    out["has_image"][rows.positions] = rows.has_image
    for pos, err in rows.errors:
        out["error_item"][pos] = err.item
        out["error_reason"][pos] = err.reason
    return out


def from_batches(positions: np.ndarray, batch: dict[str, np.ndarray]) -> EncodedRows:
    """The inverse of `to_batch` for one shard's rows (in any order), ``positions`` given."""
    order = np.argsort(positions, kind="stable")
    ok = batch["ok"][order].astype(bool)
    pos = positions[order]
    errors = [
        (int(p), ItemError(str(item), str(reason)))
        for p, good, item, reason in zip(
            pos, ok, batch["error_item"][order], batch["error_reason"][order], strict=True
        )
        if not good
    ]
    return EncodedRows(
        positions=pos[ok].astype(np.int64),
        hashes=[str(h) for h in batch["content_hash"][order][ok]],
        text=np.asarray(batch["text_vector"][order][ok], dtype=np.float32),
        has_text=batch["has_text"][order][ok].astype(bool),
        image=np.asarray(batch["image_vector"][order][ok], dtype=np.float32),
        has_image=batch["has_image"][order][ok].astype(bool),
        errors=errors,
    )
