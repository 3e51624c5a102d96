"""The parquet releases of MixBench (MixBench2025/2026) as the same rows the JSONL reader sees.

A subset folder (or its ``data/`` folder) holds one or more ``*.parquet`` files per split, named
by the split: ``query…``, ``corpus…``, ``mixed_corpus…``, ``qrel…`` (as the hub's converter
writes them, e.g. ``query-00000-of-00001.parquet``). Rows carry ``id`` (or ``query_id`` /
``corpus_id``), ``text`` and ``image`` — a path, raw bytes, or the hub's image struct
``{"bytes", "path"}``. Embedded images are written once to a content-addressed cache folder so the
encoders, which read files, can use them; ``id`` becomes ``query_id``/``corpus_id`` and image
bytes become that file's absolute path, so `mixsearch.eval.mixbench_rows` parses them like JSONL
lines.

pyarrow is optional (``pip install 'mixsearch[parquet]'``); without it such a folder is refused
with one line naming the remedy.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mixsearch.errors import MixsearchError

SPLIT_PREFIXES = (("mixed", "corpus"), ("corpus", "corpus"), ("quer", "query"), ("qrel", "qrels"))
ID_FIELDS = {"query": "query_id", "corpus": "corpus_id"}
IMAGE_SUFFIXES = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"GIF8": ".gif", b"RIFF": ".webp"}


def parquet_files(folder: Path) -> dict[str, list[Path]]:
    """The subset's parquet files by split (``query``, ``corpus``, ``qrels``); the mixed corpus
    wins over the full one, as with the JSONL files."""
    files = sorted(folder.glob("*.parquet")) + sorted(folder.glob("data/*.parquet"))
    found: dict[str, dict[str, list[Path]]] = {}
    for path in files:
        name = path.name.lower()
        for prefix, split in SPLIT_PREFIXES:
            if name.startswith(prefix):
                found.setdefault(split, {}).setdefault(prefix, []).append(path)
                break
    return {
        split: by_prefix.get("mixed") or next(iter(by_prefix.values()))
        for split, by_prefix in found.items()
    }


def read_parquet_rows(
    paths: list[Path], split: str, release: str, image_cache: Path
) -> list[tuple[int, dict[str, Any]]]:
    """(row number, row as a JSONL-like dict) over ``paths``; ``split`` names the id field."""
    pq = _pyarrow_parquet(release)
    rows: list[tuple[int, dict[str, Any]]] = []
    for path in paths:
        try:
            table = pq.read_table(path)
        except Exception as err:  # pyarrow raises several kinds for damaged files
            raise MixsearchError(f"{path}: not a readable parquet file ({err})") from None
        for row in table.to_pylist():
            rows.append((len(rows) + 1, _as_jsonl_row(row, split, image_cache)))
    return rows


def _pyarrow_parquet(release: str) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MixsearchError(
            f"{release}: a parquet release of MixBench; reading it needs pyarrow "
            "(pip install 'mixsearch[parquet]'), or download mixed-modality-search/MixBench25 "
            "(JSONL + image files) instead"
        ) from None
    return pq


def _as_jsonl_row(row: dict[str, Any], split: str, image_cache: Path) -> dict[str, Any]:
    out = dict(row)
    id_field = ID_FIELDS.get(split)
    if id_field and out.get(id_field) is None and out.get("id") is not None:
        out[id_field] = out["id"]
    if "image" in out:
        out["image"] = _image_value(out["image"], image_cache)
    return out


def _image_value(value: Any, cache: Path) -> str | None:
    """A path for the image field: given paths as they are, embedded bytes written to ``cache``."""
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        return _cached_image(data, cache) if data else path
    if isinstance(value, bytes | bytearray):
        return _cached_image(bytes(value), cache) if value else None
    return value if value is None else str(value)


def _cached_image(data: bytes, cache: Path) -> str:
    suffix = next((s for magic, s in IMAGE_SUFFIXES.items() if data.startswith(magic)), ".img")
    path = cache / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return str(path)
