"""Encoding many files: decode + preprocess overlapped with the forward pass, with a cache.

For each batch of paths a worker thread reads the bytes, hashes them, looks them up in the
``EmbeddingCache``, and decodes + preprocesses only the misses; meanwhile the main thread runs
the model on the previous batch. Threads rather than processes: Pillow releases the GIL while
decoding and resizing, tensors need no pickling between processes, and on the 2-core CI machine
one worker thread beside the forward pass measured fastest (see benchmarks/RESULTS.md).

JPEG files are decoded at reduced DCT scale (``PIL.Image.draft``) down to the encoder's
``draft_size`` (never below it), which makes decoding several times cheaper; vectors then differ
very slightly from ``encoder.encode_images`` on a fully decoded image (other formats: identical).

Bad files never stop a batch: each becomes an ``ItemError`` naming the file and the reason.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsearch.encoders.base import (
    Encoder,
    batches,
    empty_vectors,
    fingerprint_id,
    progress_bar,
    supports_images,
)
from mixsearch.encoders.cache import EmbeddingCache, sha256_bytes, sha256_text
from mixsearch.encoders.images import load_image, read_file_bytes
from mixsearch.errors import EncoderSpecError, ItemError, ItemLoadError

if TYPE_CHECKING:
    import torch

PathLike = str | os.PathLike[str]
TEXT_KIND = "text"
IMAGE_KIND = "image"


@dataclass
class EncodedBatch:
    """Vectors for the files that worked, their positions in the input, and the failures."""

    vectors: np.ndarray  # float32 [len(indices), dim]
    indices: list[int]  # positions in the input sequence, ascending
    errors: list[ItemError] = field(default_factory=list)
    cached: int = 0  # how many vectors came from the cache (no decode, no forward)


@dataclass
class _Prepared:
    """One batch after the worker: cache hits, tensors to run, and errors, all by position."""

    hits: dict[int, np.ndarray] = field(default_factory=dict)
    to_encode: list[tuple[int, str, Any]] = field(default_factory=list)  # (index, sha, tensor)
    errors: dict[int, ItemError] = field(default_factory=dict)


def encode_image_files(
    encoder: Encoder,
    paths: Sequence[PathLike],
    *,
    batch_size: int = 32,
    num_workers: int | None = None,
    progress: bool = False,
    cache: EmbeddingCache | None = None,
) -> EncodedBatch:
    """Encode image files; ``num_workers`` decode threads (None → 1; 0 → all in this thread)."""
    if not supports_images(encoder):
        raise EncoderSpecError(f"encoder {encoder.name!r} is text-only and cannot encode images")
    encoder_id = fingerprint_id(encoder) if cache is not None else ""
    workers = 1 if num_workers is None else max(0, num_workers)
    vectors: dict[int, np.ndarray] = {}
    errors: dict[int, ItemError] = {}
    cached = 0
    bar = progress_bar(len(paths), progress, f"encoding images ({encoder.name})")
    chunks = _index_chunks(len(paths), batch_size)
    for prepared in _prepared_batches(encoder, paths, chunks, workers, cache, encoder_id):
        errors.update(prepared.errors)
        vectors.update(prepared.hits)
        cached += len(prepared.hits)
        vectors.update(_run_forward(encoder, prepared, cache, encoder_id))
        bar.update(len(prepared.hits) + len(prepared.errors) + len(prepared.to_encode))
    bar.close()
    indices = sorted(vectors)
    stacked = np.stack([vectors[i] for i in indices]) if indices else empty_vectors(encoder.dim)
    return EncodedBatch(
        vectors=stacked.astype(np.float32, copy=False),
        indices=indices,
        errors=[errors[i] for i in sorted(errors)],
        cached=cached,
    )


def encode_texts_cached(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    cache: EmbeddingCache | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """float32 [len(texts), dim]; only texts missing from the cache reach the model."""
    if cache is None:
        return encoder.encode_texts(texts, batch_size=batch_size, progress=progress)
    encoder_id = fingerprint_id(encoder)
    hashes = [sha256_text(text) for text in texts]
    found = cache.get_many(encoder_id, TEXT_KIND, hashes)
    missing = {
        digest: text for digest, text in zip(hashes, texts, strict=True) if digest not in found
    }
    if missing:
        fresh = encoder.encode_texts(
            list(missing.values()), batch_size=batch_size, progress=progress
        )
        new = dict(zip(missing, fresh, strict=True))
        cache.put_many(encoder_id, TEXT_KIND, new)
        found.update(new)
    if not texts:
        return empty_vectors(encoder.dim)
    return np.stack([found[digest] for digest in hashes]).astype(np.float32, copy=False)


def _index_chunks(count: int, batch_size: int) -> list[Sequence[int]]:
    return batches(range(count), batch_size)


def _prepared_batches(
    encoder: Encoder,
    paths: Sequence[PathLike],
    chunks: list[Sequence[int]],
    workers: int,
    cache: EmbeddingCache | None,
    encoder_id: str,
) -> Iterator[_Prepared]:
    """Batches in input order; with workers, up to ``workers + 1`` are prepared ahead."""

    def prepare(chunk: Sequence[int]) -> _Prepared:
        return _prepare_batch(encoder, paths, chunk, cache, encoder_id)

    if workers == 0:
        yield from map(prepare, chunks)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mixsearch-decode") as pool:
        pending: deque[Future[_Prepared]] = deque()
        remaining = iter(chunks)
        for chunk in remaining:
            pending.append(pool.submit(prepare, chunk))
            if len(pending) > workers:
                break
        while pending:
            yield pending.popleft().result()
            next_chunk = next(remaining, None)
            if next_chunk is not None:
                pending.append(pool.submit(prepare, next_chunk))


def _prepare_batch(
    encoder: Any,
    paths: Sequence[PathLike],
    chunk: Sequence[int],
    cache: EmbeddingCache | None,
    encoder_id: str,
) -> _Prepared:
    """Read + hash every file, take cache hits, decode + preprocess the rest (worker side)."""
    prepared = _Prepared()
    contents: dict[int, tuple[bytes, str]] = {}
    for index in chunk:
        try:
            data = read_file_bytes(paths[index])
        except ItemLoadError as err:
            prepared.errors[index] = err.record()
            continue
        contents[index] = (data, sha256_bytes(data) if cache is not None else "")
    if cache is not None and contents:
        found = cache.get_many(encoder_id, IMAGE_KIND, [sha for _, sha in contents.values()])
        for index, (_, sha) in list(contents.items()):
            if sha in found:
                prepared.hits[index] = found[sha]
                del contents[index]
    draft = getattr(encoder, "draft_size", None)
    for index, (data, sha) in contents.items():
        try:
            image = load_image(paths[index], data=data, draft_size=draft)
            prepared.to_encode.append((index, sha, encoder.preprocess(image)))
        except ItemLoadError as err:
            prepared.errors[index] = err.record()
        except Exception as err:  # a preprocessing failure costs this file only
            prepared.errors[index] = ItemError(str(paths[index]), f"preprocessing failed ({err})")
    return prepared


def _run_forward(
    encoder: Any, prepared: _Prepared, cache: EmbeddingCache | None, encoder_id: str
) -> dict[int, np.ndarray]:
    if not prepared.to_encode:
        return {}
    batch = _stack([tensor for _, _, tensor in prepared.to_encode])
    vectors = encoder.encode_image_tensors(batch)
    if cache is not None:
        cache.put_many(
            encoder_id,
            IMAGE_KIND,
            [
                (sha, vector)
                for (_, sha, _), vector in zip(prepared.to_encode, vectors, strict=True)
            ],
        )
    return {
        index: vector for (index, _, _), vector in zip(prepared.to_encode, vectors, strict=True)
    }


def _stack(tensors: list[Any]) -> torch.Tensor:
    import torch

    return torch.stack(tensors)


__all__ = ["EncodedBatch", "encode_image_files", "encode_texts_cached"]
