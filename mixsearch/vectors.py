"""Small shared utilities: row normalisation, atomic file writes, file sha256, JSON for numpy.

One home for what the store, the alignment, the encoders and the CLI each need, so there is one
copy of each. It imports only numpy and the standard library: `mixsearch.align` depends on it and
must stay light.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

NORM_EPS = 1e-12  # rows with a smaller norm are left (near) zero instead of becoming NaN


# ---- normalisation ----------------------------------------------------------------------------


def normalize_rows(x: np.ndarray, eps: float = NORM_EPS) -> np.ndarray:
    """Rows of ``x`` (or a 1-d vector) divided by their L2 norm, in ``x``'s own float dtype;
    zero rows stay zero."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, eps)


def l2_normalize(x: np.ndarray, eps: float = NORM_EPS) -> np.ndarray:
    """Row-wise L2 normalisation to float32; zero rows stay zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    return normalize_rows(x, eps).astype(np.float32, copy=False)


# ---- atomic writes ----------------------------------------------------------------------------


def atomic_write_path(
    path: str | os.PathLike[str],
    fill: Callable[[Path], None],
    *,
    sync_dir: bool = False,
    tmp_name: str | None = None,
    durable: bool = True,
) -> None:
    """Write ``path`` through a temp file in the same directory: ``fill(tmp)`` writes it, then it
    is fsynced and renamed over ``path``, so readers see the old file or the whole new one, never
    half. ``sync_dir`` also fsyncs the directory, making the rename itself durable. The temp file
    is removed when anything fails. ``tmp_name``: a fixed temp name (for a single writer that
    cleans up its own leftovers by name); default: a unique one, safe for concurrent writers.
    ``durable=False`` skips the fsyncs (a file that is only a mirror of data kept elsewhere)."""
    path = Path(path)
    if tmp_name is not None:
        tmp = path.with_name(tmp_name)
    else:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
    try:
        fill(tmp)
        if durable:
            fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir and durable:
        fsync_path(path.parent)


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any], **options: Any
) -> None:
    """`atomic_write_path` for writers that take an open binary handle (same ``options``)."""

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            write(handle)

    atomic_write_path(path, fill, **options)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, **options: Any) -> None:
    atomic_write(path, lambda handle: handle.write(data), **options)


def atomic_write_text(path: str | os.PathLike[str], text: str, **options: Any) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), **options)


def atomic_write_json(path: str | os.PathLike[str], value: Any, **dumps: Any) -> None:
    """``value`` as JSON (``dumps`` are `json.dumps` options; numpy values allowed), atomically."""
    dumps.setdefault("default", json_default)
    atomic_write_text(path, json.dumps(value, **dumps))


def atomic_save_npy(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """``array`` as a .npy file (no pickle), atomically."""
    atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False))


def fsync_path(path: str | os.PathLike[str]) -> None:
    """fsync a file or a directory by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- hashing ----------------------------------------------------------------------------------

_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Streaming sha256 (hex) of a file, cached per process by path, mtime and size."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    cached = _FILE_HASHES.get(key)
    if cached is None:
        digest = hashlib.sha256()
        with open(resolved, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        cached = _FILE_HASHES[key] = digest.hexdigest()
    return cached


# ---- JSON -------------------------------------------------------------------------------------


def json_default(obj: Any) -> Any:
    """``json.dumps(..., default=json_default)``: numpy scalars/arrays and ``to_dict`` objects;
    anything else as its ``str``."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return str(obj)
