"""Reading a finished shards folder back: records and raw vectors in corpus order, all errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.documents import DocRecord
from mixsearch.errors import ItemError, MixsearchError
from mixsearch.shards.files import read_errors, read_shard
from mixsearch.shards.manifest import CORPUS_ERRORS, errors_name, read_manifest


@dataclass
class ShardSet:
    """Every shard of a folder, concatenated in shard order (= the corpus order).

    ``text``/``image``: raw encoder vectors row-aligned with ``records``, zeros for documents
    without that part; None when no document has it (as `Engine.add` passes them on)."""

    path: Path
    manifest: dict[str, Any]
    records: list[DocRecord]
    text: np.ndarray | None
    image: np.ndarray | None
    errors: list[ItemError] = field(default_factory=list)

    @property
    def encoder_fingerprint(self) -> str:
        return str(self.manifest["encoder"]["fingerprint"])


def load_shards(path: str | Path) -> ShardSet:
    folder = Path(path)
    manifest = read_manifest(folder)
    planned = [entry["file"] for entry in manifest["shards"]]
    missing = [name for name in planned if not (folder / name).is_file()]
    if missing:
        raise MixsearchError(
            f"{folder}: {len(missing)} of {len(planned)} shards are not finished (first: "
            f"{missing[0]}); rerun `mixsearch embed {manifest['source']['path']} --out {folder}`"
        )
    fingerprint = manifest["encoder"]["fingerprint"]
    parts = [read_shard(folder / name) for name in planned]
    for name, part in zip(planned, parts, strict=True):
        if part.fingerprints - {fingerprint}:
            raise MixsearchError(
                f"{folder / name} holds vectors of encoder {sorted(part.fingerprints)}, not the "
                f"manifest's {fingerprint}; embed into a new folder"
            )
    errors = read_errors(folder / CORPUS_ERRORS)
    for index in range(len(planned)):
        errors += read_errors(folder / errors_name(index))
    return ShardSet(
        path=folder,
        manifest=manifest,
        records=[r for part in parts for r in part.records],
        text=_stack(parts, "text", "has_text"),
        image=_stack(parts, "image", "has_image"),
        errors=errors,
    )


def _stack(parts: list[Any], vectors: str, present: str) -> np.ndarray | None:
    if not any(getattr(p, present).any() for p in parts):
        return None
    return np.concatenate([getattr(p, vectors) for p in parts]).astype(np.float32, copy=False)
