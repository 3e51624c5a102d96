"""The offline default's 1000 ImageNet class-prompt embeddings: shipped, cached, or computed.

Every image the offline default encodes is a mixture of these 1000 MiniLM vectors ("a photo of a
{class}: {definition}"). Embedding them takes ~10 s on an idle 2-core CPU (48 s measured on a
busy one), so they are looked up in this order:

1. the process's memo;
2. the copy shipped in this package (``class-prompts-KEY.npy``), made by
   ``python -m mixsearch.encoders.class_prompts``: a new machine never computes them;
3. the user's embedding cache folder (a prompt set or text model that was not shipped);
4. computed once, with a note and a progress bar on a terminal, and stored in that cache.

KEY is a hash of the text model's weights and the prompt texts, so a changed model, prompt or
class text (timm's WordNet definitions) can never be served a stale file: it misses and is
recomputed. The shipped file is float32, checked against a fresh computation by
``tests/encoders/test_class_prompts.py``.
"""

from __future__ import annotations

import hashlib
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("mixsearch.encoders")
_MEMO: dict[str, np.ndarray] = {}


def prompt_key(weights_sha256: str, prompts: list[str]) -> str:
    text = "\n".join([weights_sha256, *prompts])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_name(key: str) -> str:
    return f"class-prompts-{key}.npy"


def shipped_path(key: str) -> Path:
    return Path(str(resources.files("mixsearch.encoders.class_prompts") / file_name(key)))


def class_prompt_embeddings(key: str, prompts: list[str], text_encoder: Any) -> np.ndarray:
    """The [len(prompts), dim] unit vectors of ``prompts`` under ``text_encoder``."""
    found = _MEMO.get(key)
    if found is None:
        from mixsearch.encoders.cache import default_cache_dir

        expected = (len(prompts), text_encoder.dim)
        cached = default_cache_dir() / file_name(key)
        found = _read(shipped_path(key), expected)
        if found is None:
            found = _read(cached, expected)
        if found is None:
            found = _compute_and_cache(prompts, text_encoder, cached)
        _MEMO[key] = found
    return found


def _read(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    try:
        stored = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # missing or unreadable
    if stored.shape != shape or stored.dtype != np.float32:
        return None
    return stored


def _compute_and_cache(prompts: list[str], text_encoder: Any, path: Path) -> np.ndarray:
    from mixsearch.encoders.base import loading_note
    from mixsearch.vectors import atomic_save_npy

    message = f"embedding {len(prompts)} ImageNet class prompts once (cached in {path})"
    show = loading_note(message, logging.INFO)  # tens of seconds: never silent
    vectors = text_encoder.encode_texts(prompts, batch_size=128, normalize=True, progress=show)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save_npy(path, vectors)
    except OSError:
        log.debug("class prompts not cached in %s", path, exc_info=True)
    return vectors
