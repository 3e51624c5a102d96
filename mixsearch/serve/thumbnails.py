"""Thumbnails of a document's own image, made on first request and cached on disk.

Looked up by document id only: the file is the one recorded for that document at index time.
No endpoint takes a path, and no file's bytes are ever sent as they are: the image is decoded
(with the decompression-bomb check every indexed image gets) and re-encoded as a JPEG whose longer
side is at most `MAX_SIDE` pixels. So a corpus symlink serves a thumbnail of what it points to if
that decodes as an image, and nothing otherwise.

Cache: ``$MIXSEARCH_THUMBNAIL_DIR``, else ``$XDG_CACHE_HOME/mixsearch/thumbnails`` (default
``~/.cache/mixsearch/thumbnails``) — never inside the store, which may be read-only. A file is
named by the document's content hash, so an updated document gets a new thumbnail and ETag.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from mixsearch.encoders.images import load_image
from mixsearch.errors import ItemLoadError
from mixsearch.vectors import atomic_write_path

MAX_SIDE = 256
JPEG_QUALITY = 85
THUMBNAIL_ENV = "MIXSEARCH_THUMBNAIL_DIR"


def thumbnail_dir() -> Path:
    configured = os.environ.get(THUMBNAIL_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mixsearch" / "thumbnails"


def etag_for(image_path: str, content_hash: str) -> str:
    key = f"{content_hash}\0{image_path}\0{MAX_SIDE}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def thumbnail_bytes(image_path: str, content_hash: str, cache: Path) -> bytes:
    """JPEG bytes of the thumbnail (from the cache, or made and cached). ItemLoadError when the
    image cannot be read or decoded."""
    cached = cache / f"{etag_for(image_path, content_hash)}.jpg"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    data = _make_thumbnail(image_path)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        # A cache entry can always be made again: atomic (no reader sees half a JPEG), not durable.
        atomic_write_path(cached, lambda tmp: _write(tmp, data), durable=False)
    except OSError:
        pass  # an unwritable cache only costs making it again
    return data


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _make_thumbnail(image_path: str) -> bytes:
    from PIL import Image

    image = load_image(image_path, draft_size=MAX_SIDE)
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    try:
        image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    except OSError as err:
        raise ItemLoadError(image_path, f"cannot make a thumbnail ({err})") from None
    return out.getvalue()
