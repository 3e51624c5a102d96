"""Documents → raw text and image vectors (before any alignment), failures as per-item errors.

Shared by `Engine.add` and the embedding-shard runners (`mixsearch.shards`), so a document encoded
in-process, in a Ray actor or by `index` gets the same vectors and its failure the same reason.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mixsearch.documents import Document
from mixsearch.errors import ItemError

if TYPE_CHECKING:
    from mixsearch.encoders import EmbeddingCache
    from mixsearch.encoders.base import Encoder


@dataclass
class RawVectors:
    """Vectors row-aligned with ``documents`` (the ones that encoded; failed images dropped).

    ``text``/``image`` are None when no document has that part; rows of documents without it are
    zeros. ``timings``: seconds per stage (encode_image, encode_text)."""

    documents: list[Document]
    text: np.ndarray | None
    image: np.ndarray | None
    errors: list[ItemError] = field(default_factory=list)
    failed: list[Document] = field(default_factory=list)  # the documents of ``errors``, in order
    timings: dict[str, float] = field(default_factory=dict)


def encode_documents(
    encoder: Encoder,
    docs: list[Document],
    *,
    progress: bool = False,
    cache: EmbeddingCache | None = None,
) -> RawVectors:
    """Encode the image part (a bad file costs its document only), then the text part."""
    keep = np.ones(len(docs), dtype=bool)
    out = RawVectors(documents=[], text=None, image=None)
    with_image = [i for i, d in enumerate(docs) if d.image is not None]
    if with_image:
        out.image = _encode_images(encoder, docs, with_image, keep, out, progress, cache)
    with_text = [i for i, d in enumerate(docs) if d.text is not None and keep[i]]
    if with_text:
        from mixsearch.encoders import encode_texts_cached

        t0 = time.perf_counter()
        texts = [str(docs[i].text) for i in with_text]
        encoded = encode_texts_cached(encoder, texts, cache=cache, progress=progress)
        out.timings["encode_text"] = time.perf_counter() - t0
        out.text = np.zeros((len(docs), encoded.shape[1]), np.float32)
        out.text[with_text] = encoded
    out.documents = [d for d, k in zip(docs, keep, strict=True) if k]
    out.text = out.text[keep] if out.text is not None else None
    out.image = out.image[keep] if out.image is not None else None
    return out


def _encode_images(
    encoder: Encoder,
    docs: list[Document],
    with_image: list[int],
    keep: np.ndarray,
    out: RawVectors,
    progress: bool,
    cache: EmbeddingCache | None,
) -> np.ndarray:
    """Image vectors for all rows (zeros where none); clears ``keep`` for files that failed."""
    from mixsearch.encoders import encode_image_files

    t0 = time.perf_counter()
    paths = [Path(str(docs[i].image)) for i in with_image]
    batch = encode_image_files(encoder, paths, progress=progress, cache=cache)
    out.timings["encode_image"] = time.perf_counter() - t0
    dim = batch.vectors.shape[1] if len(batch.vectors) else encoder.dim
    image_vecs = np.zeros((len(docs), dim), np.float32)
    ok = np.zeros(len(docs), dtype=bool)
    for row, pos in enumerate(batch.indices):
        image_vecs[with_image[pos]] = batch.vectors[row]
        ok[with_image[pos]] = True
    # One error per file that did not encode, in input order (the pipeline's contract).
    failed = [i for i in with_image if not ok[i]]
    for pos, err in zip(failed, batch.errors, strict=True):
        out.errors.append(ItemError(err.item, f"image not indexed: {err.reason}"))
        out.failed.append(docs[pos])
    keep[with_image] = ok[with_image]
    return image_vecs


def content_hash(doc: Document) -> str:
    """sha256 over the text and the image bytes: unchanged documents are skipped on re-index."""
    digest = hashlib.sha256()
    digest.update((doc.text or "").encode("utf-8"))
    digest.update(b"\0")
    if doc.image is not None:
        try:
            with open(doc.image, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            digest.update(str(doc.image).encode())
    return digest.hexdigest()
