"""Documents → raw text and image vectors (before any alignment), failures as per-item errors.

Shared by `Engine.add`, the embedding-shard runners (`mixsearch.shards`) and the MixBench
benchmark (`mixsearch.eval.mixbench_run`), so a document encoded in-process, in a Ray actor, by
`index` or for a benchmark gets the same vectors and its failure the same reason.
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
    batch_size: int | None = None,
) -> RawVectors:
    """Encode the image part (a bad file costs its document only), then the text part.

    ``batch_size``: items per forward pass (default: the pipeline's for images, the encoder's
    for texts)."""
    keep = np.ones(len(docs), dtype=bool)
    out = RawVectors(documents=[], text=None, image=None)
    with_image = [i for i, d in enumerate(docs) if d.image is not None]
    if with_image:
        out.image = _encode_images(
            encoder, docs, with_image, keep, out, progress, cache, batch_size
        )
    with_text = [i for i, d in enumerate(docs) if d.text is not None and keep[i]]
    if with_text:
        from mixsearch.encoders import encode_texts_cached

        t0 = time.perf_counter()
        texts = [str(docs[i].text) for i in with_text]
        encoded = encode_texts_cached(
            encoder, texts, cache=cache, batch_size=batch_size, progress=progress
        )
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
    batch_size: int | None,
) -> np.ndarray:
    """Image vectors for all rows (zeros where none); clears ``keep`` for files that failed.

    Each distinct file is encoded once (fit sets pair one photo with several captions); a file
    that fails costs every document that names it, each with its own error."""
    from mixsearch.encoders import encode_image_files

    t0 = time.perf_counter()
    paths = [Path(str(docs[i].image)) for i in with_image]
    files = list(dict.fromkeys(paths))  # distinct, in first-seen order
    sizing: dict[str, int] = {} if batch_size is None else {"batch_size": batch_size}
    batch = encode_image_files(encoder, files, progress=progress, cache=cache, **sizing)
    out.timings["encode_image"] = time.perf_counter() - t0
    dim = batch.vectors.shape[1] if len(batch.vectors) else encoder.dim
    vector_of = {files[pos]: batch.vectors[row] for row, pos in enumerate(batch.indices)}
    # The pipeline gives one error per file that did not encode, in input order.
    failed_files = [f for f in files if f not in vector_of]
    error_of = dict(zip(failed_files, batch.errors, strict=True))
    image_vecs = np.zeros((len(docs), dim), np.float32)
    for i, path in zip(with_image, paths, strict=True):
        if path in vector_of:
            image_vecs[i] = vector_of[path]
            continue
        keep[i] = False
        error = error_of[path]
        out.errors.append(ItemError(error.item, f"image not indexed: {error.reason}"))
        out.failed.append(docs[i])
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
