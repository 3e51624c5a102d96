"""Shard files: one Parquet file per shard, its per-item errors beside it, both atomic.

Columns: ``doc_id``, ``modality`` ("text", "image", "image+text"), ``text``, ``image_path``,
``metadata`` (JSON text), ``content_hash`` (sha256 of text + image bytes, as the store keeps it),
``text_vector`` and ``image_vector`` (fixed-size float32 lists of the encoder's raw, L2-normalised
output — before any alignment — null where the document has no such part) and
``encoder_fingerprint``. The schema metadata key ``mixsearch`` records the shard index and the run
that wrote it. The errors file is written first and the Parquet file last, each to a temporary
name then renamed: a shard exists completely or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.documents import DocRecord, Document, Modality
from mixsearch.errors import ItemError, MixsearchError
from mixsearch.shards.manifest import errors_name, shard_name
from mixsearch.shards.rows import EncodedRows
from mixsearch.vectors import atomic_write, atomic_write_text

METADATA_KEY = b"mixsearch"


@dataclass
class ShardContents:
    """One shard read back: records and raw vectors row-aligned (None-masked by has_*)."""

    records: list[DocRecord]
    text: np.ndarray
    has_text: np.ndarray
    image: np.ndarray
    has_image: np.ndarray
    fingerprints: set[str]
    info: dict[str, Any]


def write_shard(
    folder: Path,
    index: int,
    docs: list[Document],
    rows: EncodedRows,
    *,
    fingerprint: str,
    run_id: str,
) -> None:
    _write_errors(folder / errors_name(index), rows.errors)
    table = _table(docs, rows, fingerprint, {"shard": index, "run_id": run_id})
    _write_parquet_atomic(folder / shard_name(index), table)


def read_shard(path: Path) -> ShardContents:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise MixsearchError(f"{path} is damaged ({err}); delete it and rerun embed") from None
    info = json.loads((table.schema.metadata or {}).get(METADATA_KEY, b"{}"))
    columns = table.to_pydict()
    text, has_text = _vectors(table, "text_vector")
    image, has_image = _vectors(table, "image_vector")
    records = [
        DocRecord(
            doc_id=doc_id,
            modality=Modality.parse(modality),
            text=text_value,
            image_path=image_path,
            metadata=json.loads(metadata),
            content_hash=digest,
        )
        for doc_id, modality, text_value, image_path, metadata, digest in zip(
            columns["doc_id"],
            columns["modality"],
            columns["text"],
            columns["image_path"],
            columns["metadata"],
            columns["content_hash"],
            strict=True,
        )
    ]
    return ShardContents(
        records, text, has_text, image, has_image, set(columns["encoder_fingerprint"]), info
    )


def read_errors(path: Path) -> list[ItemError]:
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [ItemError(row["item"], row["reason"]) for row in rows]


def write_errors(path: Path, errors: list[ItemError]) -> None:
    text = "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in errors)
    atomic_write_text(path, text)


def remove_stale_temporaries(folder: Path) -> None:
    """Temporary files left by a run that was killed mid-write."""
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def _write_errors(path: Path, errors: list[tuple[int, ItemError]]) -> None:
    if errors:
        write_errors(path, [err for _, err in errors])
    else:
        path.unlink(missing_ok=True)  # one left by a killed earlier attempt


def _table(docs: list[Document], rows: EncodedRows, fingerprint: str, info: dict[str, Any]) -> Any:
    import pyarrow as pa

    kept = [docs[int(p)] for p in rows.positions]
    dim = rows.text.shape[1] if rows.text.ndim == 2 else 0
    table = pa.table(
        {
            "doc_id": pa.array([d.id for d in kept], pa.string()),
            "modality": pa.array([d.modality.label for d in kept], pa.string()),
            "text": pa.array([d.text for d in kept], pa.string()),
            "image_path": pa.array(
                [str(d.image) if d.image is not None else None for d in kept], pa.string()
            ),
            "metadata": pa.array(
                [json.dumps(d.metadata, ensure_ascii=False) for d in kept], pa.string()
            ),
            "content_hash": pa.array(rows.hashes, pa.string()),
            "text_vector": _vector_column(rows.text, rows.has_text, dim),
            "image_vector": _vector_column(rows.image, rows.has_image, dim),
            "encoder_fingerprint": pa.array([fingerprint] * len(kept), pa.string()),
        }
    )
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(info).encode()})


def _vector_column(vectors: np.ndarray, present: np.ndarray, dim: int) -> Any:
    import pyarrow as pa

    values = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(values, dim, mask=pa.array(~present.astype(bool)))


def _vectors(table: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """float32 [rows, dim] (zeros where null) and the mask of rows that have a vector."""
    column = table.column(name).combine_chunks()
    dim = column.type.list_size
    present = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    flat = column.flatten()  # null rows' values are dropped by flatten: put the rest back
    out = np.zeros((len(column), dim), np.float32)
    out[present] = np.asarray(flat.to_numpy(zero_copy_only=False), np.float32).reshape(-1, dim)
    return out, present


def _write_parquet_atomic(path: Path, table: Any) -> None:
    import pyarrow.parquet as pq

    atomic_write(path, lambda handle: pq.write_table(table, handle))
