"""Encoders: texts and images → float32, L2-normalised vectors, plus file pipeline and cache.

Importing this package is cheap: torch, open_clip, transformers and timm load only when
an encoder is created (``create_encoder``).
"""

from __future__ import annotations

from mixsearch.encoders.base import Encoder, ImageEncoder, fingerprint_id, supports_images
from mixsearch.encoders.cache import EmbeddingCache, default_cache_dir
from mixsearch.encoders.factory import VALID_FORMS, create_encoder, load_encoder_config
from mixsearch.encoders.images import load_image, read_text_file
from mixsearch.encoders.pipeline import EncodedBatch, encode_image_files, encode_texts_cached

__all__ = [
    "VALID_FORMS",
    "EmbeddingCache",
    "EncodedBatch",
    "Encoder",
    "ImageEncoder",
    "create_encoder",
    "default_cache_dir",
    "encode_image_files",
    "encode_texts_cached",
    "fingerprint_id",
    "load_encoder_config",
    "load_image",
    "read_text_file",
    "supports_images",
]
