"""The contract every encoder implements, plus helpers shared by the concrete encoders.

An encoder maps texts (and, for dual encoders, images) into one float32, L2-normalised vector
space. Its ``fingerprint()`` identifies the exact weights and preprocessing, so vectors from two
encoders are only ever mixed (in the store, in the embedding cache) when their fingerprints agree.

Image encoders also expose the two halves of ``encode_images`` separately —
``preprocess(img) -> tensor`` and ``encode_image_tensors(batch)`` — so the file pipeline can
decode and preprocess in a worker while the model runs the forward pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from mixsearch.errors import BadInputError, EncoderSpecError
from mixsearch.vectors import file_sha256 as file_sha256  # re-exported for the encoders
from mixsearch.vectors import normalize_rows

log = logging.getLogger("mixsearch.encoders")


def loading_note(message: str, level: int = logging.DEBUG) -> bool:
    """Say on a terminal what is about to take seconds (loading a model, embedding prompts);
    elsewhere it goes to the log at ``level`` (scripts reading stderr see no new lines by
    default). True when shown on the terminal (progress bars follow)."""
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)
        return True
    log.log(level, message)
    return False


if TYPE_CHECKING:
    import torch
    from PIL import Image

TEXT = "text"
IMAGE = "image"
MAX_TEXT_CHARS = 32 * 1024  # well beyond 256 tokens (MiniLM) or 77 (CLIP) of any real text


@runtime_checkable
class Encoder(Protocol):
    """What the engine, the pipeline and the cache rely on."""

    name: str
    dim: int
    modalities: frozenset[str]

    def fingerprint(self) -> dict[str, Any]: ...

    def encode_texts(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        normalize: bool = True,
    ) -> np.ndarray: ...

    def encode_images(
        self,
        images: Sequence[Image.Image],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        normalize: bool = True,
    ) -> np.ndarray: ...


@runtime_checkable
class ImageEncoder(Encoder, Protocol):
    """An encoder with images whose preprocessing can run apart from its forward pass."""

    #: JPEG files may be decoded at reduced DCT scale down to this size (shorter side) before
    #: preprocessing: the preprocess resizes to about this size anyway, and it makes decoding
    #: several times cheaper.
    draft_size: int | None

    def preprocess(self, image: Image.Image) -> torch.Tensor: ...

    def encode_image_tensors(
        self, batch: torch.Tensor, *, normalize: bool = True
    ) -> np.ndarray: ...


def fingerprint_id(encoder: Encoder) -> str:
    """16 hex digits identifying the encoder's weights, preprocessing and output space."""
    canonical = json.dumps(encoder.fingerprint(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def supports_images(encoder: Encoder) -> bool:
    return IMAGE in encoder.modalities


class BatchedTextsMixin:
    """``encode_texts`` for encoders that embed one batch of texts at a time
    (``_encode_text_batch``), with batching, a progress bar and normalisation."""

    name: str
    dim: int
    batch_size: int
    always_unit = False  # True when the model's own last step is L2 normalisation

    def encode_texts(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        normalize: bool = True,
    ) -> np.ndarray:
        # Tokenisers read the whole text before truncating to the model's context (a 20 MB text
        # cost 44 s and 4 GB); no model here reads past a few hundred tokens, so a character
        # budget far above that changes no vector and bounds the cost.
        texts = [t[:MAX_TEXT_CHARS] for t in texts]
        return encode_in_batches(
            texts,
            batch_size or self.batch_size,
            self._encode_text_batch,
            dim=self.dim,
            progress=progress,
            desc=self.name,
            normalize=normalize or self.always_unit,
        )

    def _encode_text_batch(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError


class BatchedImagesMixin:
    """``encode_images`` for dual encoders that preprocess one RGB image at a time
    (``preprocess``) and embed a stacked batch of them (``encode_image_tensors``), with batching,
    a progress bar and normalisation — the same two halves the file pipeline overlaps."""

    name: str
    dim: int
    image_batch_size: int

    def encode_images(
        self,
        images: Sequence[Image.Image],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        normalize: bool = True,
    ) -> np.ndarray:
        import torch

        def run(chunk: Sequence[Image.Image]) -> np.ndarray:
            rgb = [i if i.mode == "RGB" else i.convert("RGB") for i in chunk]
            batch = torch.stack([self.preprocess(i) for i in rgb])
            return self.encode_image_tensors(batch, normalize=False)

        return encode_in_batches(
            images,
            batch_size or self.image_batch_size,
            run,
            dim=self.dim,
            progress=progress,
            desc=self.name,
            normalize=normalize,
        )

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        raise NotImplementedError

    def encode_image_tensors(self, batch: torch.Tensor, *, normalize: bool = True) -> np.ndarray:
        raise NotImplementedError


class TextOnlyMixin:
    """Gives text-only encoders the image half of the protocol: a clear refusal."""

    name: str

    def encode_images(
        self,
        images: Sequence[Any],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        normalize: bool = True,
    ) -> np.ndarray:
        raise EncoderSpecError(
            f"encoder {self.name!r} is text-only and cannot encode images; "
            "use a dual encoder such as 'offline-default' or an 'openclip:...' model"
        )


# Hashing a 100 MB checkpoint takes a noticeable fraction of a second; an encoder is constructed
# many times per process in tests and benchmarks, so keep one hash per (path, mtime, size).
def finish_vectors(vectors: np.ndarray, normalize: bool) -> np.ndarray:
    """float32 output, row-normalised when asked (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if normalize:
        vectors = normalize_rows(vectors)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def empty_vectors(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)


def resolve_device(device: str) -> str:
    """'auto' → 'cuda' when a GPU is usable, else 'cpu'; 'cuda' without a GPU is an error."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EncoderSpecError(
            f"device {device!r} requested but no CUDA GPU is available; use --device cpu"
        )
    if device != "cpu" and not device.startswith("cuda"):
        raise EncoderSpecError(f"unknown device {device!r}; use auto, cpu or cuda")
    return device


def batches(items: Sequence[Any], batch_size: int) -> list[Sequence[Any]]:
    if batch_size < 1:
        raise BadInputError(f"batch size must be at least 1, got {batch_size}")
    return [items[start : start + batch_size] for start in range(0, len(items), batch_size)]


def encode_in_batches(
    items: Sequence[Any],
    batch_size: int,
    run: Callable[[Sequence[Any]], np.ndarray],
    *,
    dim: int,
    progress: bool,
    desc: str,
    normalize: bool,
) -> np.ndarray:
    """``run`` over ``items`` batch by batch, with a progress bar: float32 [len(items), dim]."""
    if len(items) == 0:
        return empty_vectors(dim)
    out = []
    bar = progress_bar(len(items), progress, desc)
    for chunk in batches(list(items), batch_size):
        out.append(run(chunk))
        bar.update(len(chunk))
    bar.close()
    return finish_vectors(np.concatenate(out), normalize)


def progress_bar(total: int, enabled: bool, desc: str) -> Any:
    """A tqdm bar when enabled; otherwise an object with the same update/close methods (without
    importing tqdm.auto: half a second of a cold one-query search)."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="item")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass
