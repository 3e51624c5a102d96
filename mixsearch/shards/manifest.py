"""The shards folder's manifest: what was encoded, with what, into which files.

``mixsearch-shards.json`` is written (atomically) before the first shard. It names the source and
its fingerprint, the encoder (the settings that rebuild it, its fingerprint and dimension) and the
planned shards. A rerun against the folder must agree on source, encoder and shard size, else it
is refused: shards from two sources or two encoders never end up in one folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixsearch.errors import MixsearchError
from mixsearch.shards.plan import ShardPlan
from mixsearch.vectors import atomic_write_text

MANIFEST_NAME = "mixsearch-shards.json"
FORMAT = "mixsearch-shards"
VERSION = 1
CORPUS_ERRORS = "corpus-errors.jsonl"


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.parquet"


def errors_name(index: int) -> str:
    return f"shard-{index:05d}.errors.jsonl"


def is_shards_folder(path: str | Path) -> bool:
    """A folder written by `mixsearch embed` (it has the shards manifest)."""
    return (Path(path) / MANIFEST_NAME).is_file()


def build_manifest(plan: ShardPlan, encoder: dict[str, Any]) -> dict[str, Any]:
    """``encoder``: spec (what rebuilds it), fingerprint, detail, dim."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "source": {
            "path": str(plan.source),
            "kind": plan.kind,
            "fingerprint": plan.fingerprint,
            "documents": len(plan.documents),
            "ignored": plan.ignored,
            "errors": len(plan.errors),
        },
        "encoder": encoder,
        "shard_size": plan.shard_size,
        "shards": [
            {"file": shard_name(i), "documents": len(docs), "first_id": docs[0].id}
            for i in range(plan.shard_count)
            for docs in [plan.shard_documents(i)]
        ],
    }


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MixsearchError(f"{folder} is not a shards folder (no {MANIFEST_NAME})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MixsearchError(f"{path} is damaged ({err}); embed into a new folder") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise MixsearchError(f"{path} is not a mixsearch shards manifest")
    if manifest.get("version") != VERSION:
        raise MixsearchError(
            f"{path} has shards format version {manifest.get('version')}; this mixsearch reads "
            f"version {VERSION}"
        )
    return manifest


def check_same_job(folder: Path, existing: dict[str, Any], wanted: dict[str, Any]) -> None:
    """A rerun resumes only the job the folder holds: same source, encoder and shard size."""
    checks = (
        ("source", existing["source"]["fingerprint"], wanted["source"]["fingerprint"]),
        ("encoder", existing["encoder"]["fingerprint"], wanted["encoder"]["fingerprint"]),
        ("shard size", existing["shard_size"], wanted["shard_size"]),
    )
    for what, had, now in checks:
        if had != now:
            hint = {
                "source": "the source changed since (files added, removed or modified)",
                "encoder": f"it was encoded with {existing['encoder'].get('spec')!r}",
                "shard size": "rerun with the same --shard-size",
            }[what]
            raise MixsearchError(
                f"{folder} holds shards of another job ({what} {had} there, {now} now: {hint}); "
                "embed into a new --out folder, or delete this one to start over"
            )


def write_json_atomic(path: Path, payload: Any) -> None:
    atomic_write_text(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
